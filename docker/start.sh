#!/usr/bin/env bash
# Entrypoint of the AutoGLM vLLM image (it replaces the base image's `vllm serve` ENTRYPOINT, so it must call
# `vllm serve` itself). It
#   1. compares the host driver's CUDA version (nvidia-smi) with the image's floor and stops at once when the
#      driver is too old, rather than letting vLLM die later with an opaque CUDA error;
#   2. puts the Hugging Face and vLLM caches on the volume at VOLUME_PATH, so a restart reuses the weights;
#   3. execs `vllm serve` with Open-AutoGLM's launch flags, each overridable by environment, with
#      `--api-key` only when VLLM_API_KEY is set; arguments given to the container are appended.
# Never `--allowed-local-media-path`: the server is public and AutoGLM's client sends images inline.
set -euo pipefail

readonly NAME=autoglm-start

say() { printf '%s: %s\n' "$NAME" "$*"; }
fail() { printf '%s: %s\n' "$NAME" "$*" >&2; exit 1; }

# Settings from the environment (the pod's env; MODEL also from the Dockerfile's ENV), else Open-AutoGLM's values.
MODEL=${MODEL:-zai-org/AutoGLM-Phone-9B}
SERVED_MODEL_NAME=${SERVED_MODEL_NAME:-autoglm-phone-9b}
MAX_MODEL_LEN=${MAX_MODEL_LEN:-25480}
TENSOR_PARALLEL_SIZE=${TENSOR_PARALLEL_SIZE:-1}
MM_ENCODER_TP_MODE=${MM_ENCODER_TP_MODE:-data}
MM_PROCESSOR_CACHE_TYPE=${MM_PROCESSOR_CACHE_TYPE:-shm}
MM_PROCESSOR_KWARGS=${MM_PROCESSOR_KWARGS:-'{"max_pixels":5000000}'}
LIMIT_MM_PER_PROMPT=${LIMIT_MM_PER_PROMPT:-'{"image":10}'}
CHAT_TEMPLATE_CONTENT_FORMAT=${CHAT_TEMPLATE_CONTENT_FORMAT:-string}
PORT=${PORT:-8000}

require_count() {  # name value: a positive integer, or stop naming the variable
  [[ $2 =~ ^[1-9][0-9]*$ ]] || fail "$1=$2 is not a positive integer; set it to e.g. $3 or unset it."
}

# "12.9" → 12009, so major.minor compare numerically (12.10 > 12.9), as the container runtime's gate does.
cuda_number() {
  local major=${1%%.*} minor=${1#*.}
  echo $(( 10#$major * 1000 + 10#${minor%%.*} ))
}

host_driver_cuda() {  # the "CUDA Version: X.Y" of nvidia-smi's banner; empty when it cannot tell
  command -v nvidia-smi >/dev/null 2>&1 || return 0
  local banner
  banner=$(nvidia-smi 2>/dev/null) || return 0
  [[ $banner =~ CUDA\ Version:\ *([0-9]+\.[0-9]+) ]] && echo "${BASH_REMATCH[1]}"
  return 0
}

check_driver() {
  local floor=${CUDA_FLOOR:-} image_cuda=${CUDA_VERSION:-unknown} vllm=${IMAGE_VLLM_VERSION:-unknown}
  local driver=${CUDA_MIN_DRIVER:-unknown} host
  [[ $floor =~ ^[0-9]+\.[0-9]+$ ]] || fail "CUDA_FLOOR=${floor} is not a CUDA version like 12.9 (the image sets it)."
  host=$(host_driver_cuda)
  if [[ -z $host ]]; then
    say "host driver CUDA: unknown (no nvidia-smi answer); image CUDA ${image_cuda} (vLLM ${vllm}) needs >= ${floor}."
    return 0
  fi
  say "host driver CUDA ${host}; image CUDA ${image_cuda} (vLLM ${vllm}) needs >= ${floor}."
  (( $(cuda_number "$host") >= $(cuda_number "$floor") )) && return 0
  local problem="the host's NVIDIA driver supports CUDA ${host}, but this image (CUDA ${image_cuda}, vLLM ${vllm})"
  problem+=" needs CUDA >= ${floor} (driver >= ${driver})."
  if [[ ${SKIP_CUDA_CHECK:-0} == 1 ]]; then
    say "warning: ${problem} Starting anyway (SKIP_CUDA_CHECK=1)." >&2
    return 0
  fi
  fail "${problem} Fix: run on a host whose driver supports CUDA >= ${floor} (RunPod: gpu.minCudaVersion ${floor})," \
    "or use a vLLM version whose image needs less. SKIP_CUDA_CHECK=1 starts anyway (datacenter GPUs on an" \
    "older long-term driver may run through the image's CUDA forward-compatibility libraries)."
}

# HF_HOME and VLLM_CACHE_ROOT under the volume unless already set; a missing volume costs a re-download, not a stop.
use_volume_caches() {
  local volume=${VOLUME_PATH:-}
  [[ -n $volume ]] || return 0
  if [[ ! -d $volume || ! -w $volume ]]; then
    say "warning: VOLUME_PATH=${volume} is not a writable directory; the weights go to the container disk" \
      "and are downloaded again after every restart." >&2
    return 0
  fi
  export HF_HOME=${HF_HOME:-${volume%/}/hf}
  export VLLM_CACHE_ROOT=${VLLM_CACHE_ROOT:-${volume%/}/vllm}
  mkdir -p "$HF_HOME" "$VLLM_CACHE_ROOT"
  say "caches on the volume: HF_HOME=${HF_HOME} VLLM_CACHE_ROOT=${VLLM_CACHE_ROOT}"
}

# One shell word, quoted only when it needs to be, for a command line a person can copy.
shell_word() {
  if [[ $1 =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}

# The command line as it will run, with the API key masked.
show_command() {
  local line="vllm" mask_next=0 arg
  for arg in "$@"; do
    if (( mask_next )); then arg='****'; mask_next=0
    elif [[ $arg == --api-key ]]; then mask_next=1
    elif [[ $arg == --api-key=* ]]; then arg='--api-key=****'
    fi
    line+=" $(shell_word "$arg")"
  done
  say "exec ${line}"
}

require_count MAX_MODEL_LEN "$MAX_MODEL_LEN" 25480
require_count TENSOR_PARALLEL_SIZE "$TENSOR_PARALLEL_SIZE" 1
require_count PORT "$PORT" 8000

check_driver
use_volume_caches

serve=(serve "$MODEL"
  --served-model-name "$SERVED_MODEL_NAME"
  --max-model-len "$MAX_MODEL_LEN"
  --mm-encoder-tp-mode "$MM_ENCODER_TP_MODE"
  --mm_processor_cache_type "$MM_PROCESSOR_CACHE_TYPE"
  --mm_processor_kwargs "$MM_PROCESSOR_KWARGS"
  --limit-mm-per-prompt "$LIMIT_MM_PER_PROMPT"
  --chat-template-content-format "$CHAT_TEMPLATE_CONTENT_FORMAT"
  --port "$PORT")
if (( TENSOR_PARALLEL_SIZE > 1 )); then
  serve+=(--tensor-parallel-size "$TENSOR_PARALLEL_SIZE")
fi
if [[ -n ${VLLM_API_KEY:-} ]]; then
  serve+=(--api-key "$VLLM_API_KEY")
fi
serve+=("$@")

show_command "${serve[@]}"
exec vllm "${serve[@]}"
