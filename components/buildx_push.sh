#!/usr/bin/env bash
# Builds the AutoGLM vLLM image with docker buildx and pushes it: the create step of the pulumi-command
# local.Command that components/image.py declares. The build log goes to stderr; on success stdout carries a
# marker line, then buildx's metadata JSON, whose containerimage.digest pins the pushed image.
# Usage: buildx_push.sh REPOSITORY [docker buildx build arguments...]
#
# Before building, the Dockerfile's base image (vllm/vllm-openai:v<version>, ~12 GB) is fetched with an explicit
# `docker pull` for the target platform. An image pulled that way carries where its layers came from, so a push
# to the same registry (docker.io/yourname/...) mounts them from vllm/vllm-openai instead of uploading them; a base
# fetched implicitly by the build's FROM is uploaded in full with Docker's containerd image store.
# Written for bash 3.2 too (macOS): no associative arrays, no ${var^^}.
set -euo pipefail

readonly NAME=buildx_push
readonly MARKER='--- buildx metadata ---'
readonly SKIP_HINT="or set the image setting to a ready image reference to skip the build."
# The Dockerfile's first line, `# syntax=docker/dockerfile:1`, makes BuildKit fetch this frontend on every build.
readonly FRONTEND=docker/dockerfile
readonly BUILD_FAILED="docker buildx build failed (its log is above): "

fail() { printf '%s: %s\n' "$NAME" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "$NAME" "$*" >&2; }

# The registry of an image or repository: the first path component when it names a host (a dot, a port, or
# localhost), else Docker Hub.
registry_of() {
  local first=${1%%/*}
  if [[ $1 == */* && ($first == *.* || $first == *:* || $first == localhost) ]]; then
    echo "$first"
  else
    echo docker.io
  fi
}

registry_name() {  # registry host → how messages name it
  if [[ $1 == docker.io ]]; then echo "Docker Hub (docker.io)"; else echo "$1"; fi
}

# ---- what the buildx arguments say: platform, Dockerfile, build arguments -------------------------------------

platform="" dockerfile="" build_args=()
read_build_arguments() {
  while (( $# )); do
    case $1 in
      --platform) platform=${2-} ;;
      --platform=*) platform=${1#*=} ;;
      --file | -f) dockerfile=${2-} ;;
      --file=*) dockerfile=${1#*=} ;;
      --build-arg) build_args+=("${2-}") ;;
      --build-arg=*) build_args+=("${1#*=}") ;;
    esac
    shift
  done
}

expand_args() {  # text → text with ${NAME} and $NAME replaced by the build argument's value
  local text=$1 pair name
  for pair in ${build_args[@]+"${build_args[@]}"}; do
    name=${pair%%=*}
    text=${text//"\${$name}"/${pair#*=}}
    text=${text//"\$$name"/${pair#*=}}
  done
  printf '%s' "$text"
}

base_image() {  # the image the Dockerfile builds FROM, its ARGs filled in; empty when that cannot be told
  local instruction rest token from=""
  [[ -n $dockerfile && -r $dockerfile ]] || return 0
  while read -r instruction rest; do
    case $instruction in
      [Aa][Rr][Gg]) [[ $rest == *=* ]] && build_args+=("$rest") ;;  # a default, after the --build-arg values
      [Ff][Rr][Oo][Mm])
        for token in $rest; do [[ $token == --* ]] || { from=$token; break; }; done
        break ;;
    esac
  done < "$dockerfile"
  from=$(expand_args "$from")
  [[ $from == *'$'* ]] || printf '%s' "$from"
}

# ---- why a step failed ---------------------------------------------------------------------------------------

errors_of() { grep -iE 'error|denied|not found|toomanyrequests' "$1" || true; }

# The base image or the Dockerfile frontend could not be had from its registry (Docker Hub): say which and why.
explain_fetch_failure() {  # IMAGE WHAT ERROR_LINES PREFIX
  local image=$1 what=$2 errors=$3 prefix=$4 from
  from=$(registry_name "$(registry_of "$image")")
  if grep -qiE 'not found|manifest unknown|does not exist' <<<"$errors"; then
    [[ $image == "$FRONTEND"* ]] && fail "${prefix}${from} has no ${what}."
    fail "${prefix}${from} has no ${image}: check that the vllmVersion setting names a tag that vllm/vllm-openai" \
      "publishes (https://hub.docker.com/r/vllm/vllm-openai/tags). Nothing was pushed to ${repository}."
  fi
  if grep -qiE 'toomanyrequests|rate limit|429 too many' <<<"$errors"; then
    fail "${prefix}${from} refused ${what}: its pull rate limit is reached. Log in to raise it (docker login" \
      "docker.io, a free account will do) or retry later. The push to ${repository} was not the problem."
  fi
  if grep -qiE 'unauthori[sz]ed|incorrect username|authentication required|access.*denied|denied:' <<<"$errors"; then
    fail "${prefix}${from} refused the login saved on this machine while fetching ${what}. Log in again" \
      "(docker login docker.io) or remove it (docker logout docker.io): the image is public."
  fi
  fail "${prefix}${what} could not be fetched: ${from} did not answer from this machine (network, proxy or" \
    "DNS; the log above has the exact error). The push to ${repository} was not reached."
}

explain_build_failure() {  # log file → the most likely cause and its fix
  local log=$1 registry errors base_repo what
  registry=$(registry_of "$repository")
  errors=$(errors_of "$log")
  if grep -qF "$FRONTEND" <<<"$errors"; then
    what="the Dockerfile frontend ${FRONTEND}:1 (the Dockerfile's first line, # syntax=${FRONTEND}:1, has BuildKit"
    explain_fetch_failure "${FRONTEND}:1" "${what} fetch it on every build)" "$errors" "$BUILD_FAILED"
  fi
  base_repo=${base%:*}
  if [[ -n $base ]] && grep -qF "$base_repo" <<<"$errors"; then
    explain_fetch_failure "$base" "the base image ${base}" "$(grep -F "$base_repo" <<<"$errors")" "$BUILD_FAILED"
  fi
  if grep -qiE 'unauthori[sz]ed|authentication required|access.*denied|denied:|insufficient_scope|no basic auth|403 forbidden' "$log"; then
    fail "the push to ${repository} was refused. Log in to ${registry} with an account that may push there:" \
      "docker login ${registry}"
  fi
  if grep -qiE 'cannot connect to the docker daemon|error during connect|is the docker daemon running' "$log"; then
    fail "no Docker engine is reachable. Start Docker, or point buildx at a remote builder" \
      "(docker buildx create --use tcp://HOST:PORT); ${SKIP_HINT}"
  fi
  fail "${BUILD_FAILED}its first ERROR line names the cause (its errors name neither the base image nor the" \
    "Dockerfile frontend from Docker Hub, nor a refused push to ${registry})."
}

# ---- the steps -----------------------------------------------------------------------------------------------

# `docker pull` of the base for the target platform, so the push can mount its layers (see the top).
pull_base() {
  local log=$work/pull.log
  [[ -n $base ]] || { note "could not tell the Dockerfile's base image; the build fetches it itself"; return 0; }
  note "pulling the base image ${base}${platform:+ for $platform} before the build"
  if docker pull ${platform:+--platform "$platform"} "$base" 2>&1 | tee "$log" >&2; then
    return 0
  fi
  if grep -qiE 'cannot connect to the docker daemon|error during connect|is the docker daemon running' "$log"; then
    note "no local Docker engine to pull ${base} into; leaving the base to the build (a remote builder fetches it)"
    return 0
  fi
  explain_fetch_failure "$base" "the base image ${base}" "$(errors_of "$log")" "the pull before the build failed: "
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

read_build_arguments "$@"
base=$(base_image)
pull_base

if ! docker buildx build --push --metadata-file "$work/metadata.json" "$@" 2>&1 | tee "$work/build.log" >&2; then
  explain_build_failure "$work/build.log"
fi
[[ -s $work/metadata.json ]] || fail "docker buildx build wrote no metadata file; buildx 0.6 or newer is needed."
printf '%s\n' "$MARKER"
cat "$work/metadata.json"
