#!/bin/sh
# Refuses to build the table-server image from a base named by a floating tag (edge/Dockerfile
# runs it first). A tag such as python:3.12-slim moves whenever upstream rebuilds it, so a
# release built from it can differ from the one tested; the release build (docs/DEPLOY.md,
# *Table-server image*) passes the base pinned by its digest instead. A local build that does
# not care passes ALLOW_UNPINNED_BASE=1.
#   usage: require-pinned-base.sh IMAGE [ALLOW_UNPINNED_BASE]
set -eu
image="${1:-}"
allow="${2:-}"
case "$image" in
  *@sha256:*)
    if printf '%s\n' "${image##*@sha256:}" | grep -Eqx '[0-9a-f]{64}'; then exit 0; fi ;;
esac
if [ "$allow" = "1" ]; then
  echo "require-pinned-base: building from the unpinned base $image (ALLOW_UNPINNED_BASE=1): not for a release" >&2
  exit 0
fi
echo "require-pinned-base: the base image '$image' is not pinned by digest." >&2
echo "  Pass --build-arg PYTHON_IMAGE=python:3.12-slim@sha256:<digest>, the digest from" >&2
echo "  'docker buildx imagetools inspect python:3.12-slim' or 'crane digest python:3.12-slim'" >&2
echo "  (docs/DEPLOY.md, Table-server image); for a local build only, --build-arg ALLOW_UNPINNED_BASE=1." >&2
exit 1
