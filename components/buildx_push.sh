#!/usr/bin/env bash
# Builds the AutoGLM vLLM image with docker buildx and pushes it: the create step of the pulumi-command
# local.Command that components/image.py declares. The build log goes to stderr; on success stdout carries a
# marker line, then buildx's metadata JSON, whose containerimage.digest pins the pushed image.
# Usage: buildx_push.sh REPOSITORY [docker buildx build arguments...]
set -euo pipefail

readonly NAME=buildx_push
readonly MARKER='--- buildx metadata ---'
readonly SKIP_HINT="or set the image setting to a ready image reference to skip the build."

fail() { printf '%s: %s\n' "$NAME" "$*" >&2; exit 1; }

# The registry to log in to: the first path component when it names a host (a dot, a port, or localhost).
registry_of() {
  local first=${1%%/*}
  if [[ $1 == */* && ($first == *.* || $first == *:* || $first == localhost) ]]; then
    echo "$first"
  else
    echo docker.io
  fi
}

explain_failure() {  # log file → the most likely cause and its fix
  local log=$1 registry
  registry=$(registry_of "$repository")
  if grep -qiE 'unauthori[sz]ed|authentication required|access.*denied|denied:|insufficient_scope|no basic auth|403 forbidden' "$log"; then
    fail "the push to ${repository} was refused. Log in to ${registry} with an account that may push there:" \
      "docker login ${registry}"
  fi
  if grep -qiE 'cannot connect to the docker daemon|error during connect|is the docker daemon running' "$log"; then
    fail "no Docker engine is reachable. Start Docker, or point buildx at a remote builder" \
      "(docker buildx create --use tcp://HOST:PORT); ${SKIP_HINT}"
  fi
  fail "docker buildx build failed (its log is above). Check that vllm/vllm-openai has the tag the vllmVersion" \
    "setting names, and that ${registry} is reachable."
}

(( $# >= 1 )) || fail "usage: buildx_push.sh REPOSITORY [docker buildx build arguments...]"
repository=$1
shift

command -v docker >/dev/null 2>&1 ||
  fail "docker was not found on PATH. Install the Docker CLI with its buildx plugin" \
    "(https://docs.docker.com/get-docker/), ${SKIP_HINT}"
docker buildx version >/dev/null 2>&1 ||
  fail "docker buildx is not installed. Install the buildx plugin (Debian/Ubuntu: apt-get install" \
    "docker-buildx-plugin; elsewhere https://github.com/docker/buildx#installing), ${SKIP_HINT}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! docker buildx build --push --metadata-file "$work/metadata.json" "$@" 2>&1 | tee "$work/build.log" >&2; then
  explain_failure "$work/build.log"
fi
[[ -s $work/metadata.json ]] || fail "docker buildx build wrote no metadata file; buildx 0.6 or newer is needed."
printf '%s\n' "$MARKER"
cat "$work/metadata.json"
