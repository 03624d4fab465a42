# Build targets of `sam build` (every function and the layer say `BuildMethod: makefile` in
# template.yaml). Not for day-to-day use: `./dev` is the developer tool. See docs/DEPLOY.md.
#
#   sam build --config-env dev      (runs these targets; needs python3 and pip, no Docker)
#
# The layer holds the shared package (shared/src/holdem) and the runtime packages of
# requirements/runtime.txt (base.in at lock.txt's versions, every file's hash checked), as
# arm64 wheels for Python 3.12. Each function's artifact is the functions/ package (handlers
# only). The Lambda Python 3.12 runtime (Amazon Linux 2023, glibc 2.34) takes manylinux_2_28
# wheels, which some packages (psycopg-binary) publish instead of manylinux2014 ones.

PYTHON ?= python3
LAMBDA_PYTHON := 3.12
LAMBDA_PLATFORMS := --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64

build-DependenciesLayer:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check \
		--target "$(ARTIFACTS_DIR)/python" \
		$(LAMBDA_PLATFORMS) --implementation cp --python-version $(LAMBDA_PYTHON) \
		--only-binary=:all: \
		--require-hashes -r requirements/runtime.txt
	cp -R shared/src/holdem "$(ARTIFACTS_DIR)/python/holdem"
	# Exec wrapper (AWS_LAMBDA_EXEC_WRAPPER): resolve {{secret:ARN#key}} env values, then start
	# the runtime. See holdem/adapters/secret_refs.py.
	printf '#!/bin/sh\nexec python3 -m holdem.adapters.secret_refs -- "$$@"\n' \
		> "$(ARTIFACTS_DIR)/holdem-secrets"
	chmod 755 "$(ARTIFACTS_DIR)/holdem-secrets"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +

# Any function: `build-<LogicalId>` copies the handlers. A new function needs no new target.
build-%:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R functions "$(ARTIFACTS_DIR)/functions"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
