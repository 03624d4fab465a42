# Build targets of `sam build` (every function and the layer say `BuildMethod: makefile` in
# template.yaml). Not for day-to-day use: `./dev` is the developer tool. See docs/DEPLOY.md.
#
#   sam build --config-env dev      (runs these targets; needs python3 and pip, no Docker)
#
# The layer holds the shared package (shared/src/holdem) and the runtime packages of
# requirements/base.in at the exact versions of requirements/lock.txt, as arm64 wheels for
# Python 3.12. Each function's artifact is the functions/ package (handlers only).

PYTHON ?= python3
LAMBDA_PYTHON := 3.12
LAMBDA_PLATFORM := manylinux2014_aarch64

build-DependenciesLayer:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check \
		--target "$(ARTIFACTS_DIR)/python" \
		--platform $(LAMBDA_PLATFORM) --implementation cp --python-version $(LAMBDA_PYTHON) \
		--only-binary=:all: \
		-r requirements/base.in -c requirements/lock.txt
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
