#!/usr/bin/env bash
# Entrypoint of the AutoGLM vLLM image (it replaces the base image's `vllm serve` ENTRYPOINT, so it must call
# `vllm serve` itself). It
#   1. compares the host driver's CUDA version (nvidia-smi) with the image's floor and stops at once when the
#      driver is too old, rather than letting vLLM die later with an opaque CUDA error;
#   2. puts the Hugging Face and vLLM caches on the volume at VOLUME_PATH, so a restart reuses the weights, with
#      one writer at a time: the container holding the volume's writer lock fills the cache; any other waits
#      until the cache holds the model, then reads it offline (HF_HUB_OFFLINE=1) and writes nothing there;
#   3. renders nginx's configuration and starts nginx on PORT (the pod's public port) in front of
#      `vllm serve` on 127.0.0.1:VLLM_PORT, with Open-AutoGLM's launch flags, each overridable by environment;
#      arguments given to the container are appended. vLLM takes the key from VLLM_API_KEY in its environment,
#      never from `--api-key`: releases before vLLM redacted it log their non-default arguments, the key
#      among them, into the pod's log;
#   4. supervises both: when either ends, it stops the other and exits non-zero saying which, so RunPod shows
#      the pod as failed rather than serving half. SIGTERM or SIGINT stops both and exits 0.
# Why nginx: vLLM's --api-key guards only /v1 (and /v2, /inference in newer releases); /invocations serves the
# same completions without a key, and /tokenize, /metrics, /docs answer anyone. The pod's URL is public, so
# nginx lets through only GET /health, GET /ping and /v1/ with the key; every other path is 404. vLLM keeps
# its own key check (VLLM_API_KEY) as a second lock.
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
PORT=${PORT:-8000}                       # nginx: the port the pod exposes
VLLM_PORT=${VLLM_PORT:-8001}             # vLLM, reachable from inside the container only
PROXY_HOST=${PROXY_HOST:-0.0.0.0}        # IPv4 only: a container without IPv6 would make [::] fail to bind
PROXY_DIR=${PROXY_DIR:-/run/autoglm-proxy}  # nginx's config (it holds the key: root-only), pid and temp files
PROXY_ACCESS_LOG=${PROXY_ACCESS_LOG:-/dev/stdout}
PROXY_ERROR_LOG=${PROXY_ERROR_LOG:-stderr}
PROXY_USER=${PROXY_USER:-www-data}       # nginx's workers, when started as root
STOP_GRACE_S=${STOP_GRACE_S:-10}         # how long a stopped process may take before it is killed
CACHE_WAIT_S=${CACHE_WAIT_S:-3600}       # how long a start waits while another container fills the volume's cache
CACHE_STALE_S=${CACHE_STALE_S:-300}      # a writer whose heartbeat has not moved this long is presumed dead
CACHE_BEAT_S=${CACHE_BEAT_S:-15}         # the writer's heartbeat, and how often a waiting start looks
readonly VLLM_HOST=127.0.0.1

require_count() {  # name value: a positive integer, or stop naming the variable
  [[ $2 =~ ^[1-9][0-9]*$ ]] || fail "$1=$2 is not a positive integer; set it to e.g. $3 or unset it."
}

# Values written into nginx's configuration: nothing nginx would read as syntax (quotes, $, ;, braces, spaces).
require_conf_word() {  # name value example
  [[ $2 =~ ^[A-Za-z0-9_./:-]+$ ]] || fail "$1=$2 cannot go into nginx's configuration; use e.g. $3."
}

# The key goes into nginx's configuration too, so it must be an RFC 6750 bearer token (b64token): letters,
# digits, - . _ ~ + /, then optional trailing = signs. The stack's settings refuse other keys at preview
# (components/settings/); this catches a container started by hand. The key itself is never printed.
require_bearer_token() {
  [[ -z ${VLLM_API_KEY:-} || $VLLM_API_KEY =~ ^[A-Za-z0-9._~+/-]+=*$ ]] && return 0
  fail "VLLM_API_KEY holds characters nginx's configuration cannot hold safely (quotes, \$, spaces, newlines," \
    "backslashes, braces, semicolons, ...). Use letters, digits and - . _ ~ + / (= only at the end): set the" \
    "stack's autoglm-runpod:vllmApiKey to such a key, or unset it to have the stack generate one."
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
    "or use a vLLM version or tag whose image needs less (e.g. a -cu129 tag for vLLM 0.20-0.32)." \
    "SKIP_CUDA_CHECK=1 starts anyway: datacenter GPUs on an older long-term driver (R535, R570) may run the" \
    "image through its CUDA forward-compatibility libraries, which vLLM >= 0.17 uses only with" \
    "VLLM_ENABLE_CUDA_COMPATIBILITY=1 (set both)."
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
  [[ -n ${VLLM_CACHE_ROOT:-} ]] || compile_cache_on_volume=1
  export HF_HOME=${HF_HOME:-${volume%/}/hf}
  export VLLM_CACHE_ROOT=${VLLM_CACHE_ROOT:-${volume%/}/vllm}
  cache_dir=${volume%/}/.autoglm
  mkdir -p "$HF_HOME" "$VLLM_CACHE_ROOT" "$cache_dir"
  say "caches on the volume: HF_HOME=${HF_HOME} VLLM_CACHE_ROOT=${VLLM_CACHE_ROOT}"
}

# ---- one writer per volume ---------------------------------------------------------------------------------------
# RunPod: "Writing to the same volume from multiple workers simultaneously may cause data corruption". Several
# containers may start at once on one volume (serverless workers starting cold, a replacement pod beside the old
# one). The writer lock is a directory, made with mkdir, which is atomic on a network file system too. Its holder
# downloads what is missing, writes vLLM's compile cache, and bumps a heartbeat until vLLM answers /health; then
# it writes the model's ready marker and removes the lock. A start that finds the marker and cannot take the lock
# reads the weights offline and keeps its compile cache on the container disk: it writes nothing to the volume.
# A start that finds neither waits (nginx's /ping answers 204 meanwhile); a lock whose heartbeat stops moving
# for CACHE_STALE_S (by this container's clock: machines' clocks may differ) belonged to a container that died,
# and is taken over (the Hugging Face download resumes what it left).
cache_dir=""                 # VOLUME_PATH/.autoglm when the caches are on a volume
compile_cache_on_volume=0    # VLLM_CACHE_ROOT was put on the volume by this script (not set by the user)
cache_writer=0               # this container holds the writer lock
keeper_pid=""
# Who holds the lock: written into it, and checked before this container removes it, so a writer that was taken
# over (it stalled past CACHE_STALE_S) never removes its successor's lock. The pid alone could repeat across
# containers (each may be pid 1 in its own namespace).
lock_owner="${HOSTNAME:-container} $$ ${RANDOM}${RANDOM}"

cache_lock() { printf '%s/writer.lock' "$cache_dir"; }
cache_marker() { printf '%s/ready-%s' "$cache_dir" "${MODEL//\//--}"; }

take_cache_lock() {  # true when this container now holds the writer lock
  mkdir "$(cache_lock)" 2>/dev/null || return 1
  printf '%s\n' "$lock_owner" > "$(cache_lock)/owner"
  printf '0\n' > "$(cache_lock)/heartbeat"
  cache_writer=1
}

lock_holder() {  # dir: the owner line of the lock at dir, empty when there is none (yet)
  local owner=""
  read -r owner 2>/dev/null < "$1/owner" || true
  printf '%s' "$owner"
}

release_cache_lock() {  # removes the writer lock only while it is still this container's
  (( cache_writer )) || return 0
  [[ $(lock_holder "$(cache_lock)") != "$lock_owner" ]] || rm -rf "$(cache_lock)"
  cache_writer=0
}

take_over_cache_lock() {  # lock, stale owner: moves the lock away only if it is still the stale one's
  local moved="$1.stale.$$"
  mv -T "$1" "$moved" 2>/dev/null || return 0
  if [[ $(lock_holder "$moved") == "$2" ]]; then
    rm -rf "$moved"
  elif ! mv -T "$moved" "$1" 2>/dev/null; then  # another waiter took over first: its fresh lock goes back
    rm -rf "$moved"
  fi
}

# Wait until the cache holds the model, or the writer lock is ours; a signal meanwhile stops nginx and the script.
claim_cache() {
  [[ -n $cache_dir ]] || return 0
  local marker lock owner beat seen="" since=$SECONDS start=$SECONDS said=-1 status nap
  marker=$(cache_marker)
  lock=$(cache_lock)
  until take_cache_lock || [[ -e $marker ]]; do
    if [[ -n $stop_signal ]]; then
      stop_processes "$proxy_pid"
      say "stopped on SIG${stop_signal} while waiting for the model cache."
      exit 0
    fi
    if ! alive "$proxy_pid"; then
      status=0
      wait "$proxy_pid" || status=$?
      ended nginx "$status" "the wait for the model cache" ""
    fi
    owner=$(lock_holder "$lock") beat=""
    read -r beat 2>/dev/null < "$lock/heartbeat" || true
    if [[ "$owner $beat" != "$seen" ]]; then  # a new holder is a sign of life too
      seen="$owner $beat" since=$SECONDS
    elif (( SECONDS - since >= CACHE_STALE_S )); then
      say "the container filling the model cache has not shown a sign of life for ${CACHE_STALE_S} s; taking over."
      take_over_cache_lock "$lock" "$owner"
      continue
    fi
    (( SECONDS - start < CACHE_WAIT_S )) || fail "waited ${CACHE_WAIT_S} s for another container to fill the" \
      "model cache on ${VOLUME_PATH}; it holds ${lock} and is still at it. Raise CACHE_WAIT_S, or remove ${lock} if" \
      "no container is running."
    if (( (SECONDS - start) / 60 != said )); then
      said=$(( (SECONDS - start) / 60 ))
      say "another container is filling the model cache on ${VOLUME_PATH} (${lock}); waiting for ${MODEL} to be" \
        "there ($(( SECONDS - start )) s so far), so no two containers write it at once."
    fi
    sleep "$CACHE_BEAT_S" &  # waited for with `wait`, which a signal interrupts at once
    nap=$!
    [[ -n $stop_signal ]] || wait "$nap" || true  # (a signal that came while sleep started: no wait at all)
    kill "$nap" 2>/dev/null || true
  done
  cache_role "$marker"
}

cache_role() {  # marker: what this container may do with the cache, now that it has the lock or the model is there
  if [[ -e $1 ]]; then
    export HF_HUB_OFFLINE=1
    if (( cache_writer )); then
      say "model cache: ${MODEL} is on the volume; reading it offline (HF_HUB_OFFLINE=1)."
    else
      (( compile_cache_on_volume )) && unset VLLM_CACHE_ROOT
      say "model cache: ${MODEL} is on the volume and another container holds its writer lock; reading it" \
        "offline (HF_HUB_OFFLINE=1), with the compile cache on the container disk: nothing is written to the volume."
    fi
  else
    say "model cache: ${MODEL} is not on the volume yet; this container downloads it (writer lock taken)."
  fi
}

vllm_answers() {  # GET /health on vLLM answers 200 (bash's /dev/tcp: the image needs no HTTP client)
  local status=""
  { exec 9<>"/dev/tcp/${VLLM_HOST}/${VLLM_PORT}"; } 2>/dev/null || return 1
  printf 'GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&9
  read -r -t 10 status <&9 || true
  exec 9<&- 9>&-
  [[ $status =~ ^HTTP/1\.[01]\ 200 ]]
}

keep_cache() {  # the writer, in the background: heartbeat until vLLM is up, then mark the model ready and unlock
  local beats=0 lock marker
  lock=$(cache_lock)
  marker=$(cache_marker)
  until vllm_answers; do
    beats=$((beats + 1))
    printf '%s\n' "$beats" > "$lock/heartbeat"
    sleep "$CACHE_BEAT_S"
  done
  : > "$marker"
  [[ $(lock_holder "$lock") != "$lock_owner" ]] || rm -rf "$lock"
  say "model cache: ${MODEL} is ready on the volume (${marker}); other containers now read it offline."
}

start_cache_keeper() {
  (( cache_writer )) || return 0
  keep_cache &
  keeper_pid=$!
}

on_exit() {  # whatever ends the script: a writer that did not finish lets the next container take over at once
  [[ -z $keeper_pid ]] || kill "$keeper_pid" 2>/dev/null || true
  [[ -z $cache_dir ]] || release_cache_lock
}

# One shell word, quoted only when it needs to be, for a command line a person can copy.
shell_word() {
  if [[ $1 =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}

# The command line as it will run, with an `--api-key` given to the container masked.
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

# nginx's configuration. Routes: GET /health and GET /ping open (the health check, RunPod's proxy and load
# balancer probe them before any key); /v1/ only with `Authorization: Bearer <VLLM_API_KEY>` (open when no key
# is set: publicEndpoint); everything else 404.
proxy_conf() {
  local user_line="" auth_check="# No VLLM_API_KEY (publicEndpoint): /v1/ is open to anyone."
  (( EUID == 0 )) && user_line="user ${PROXY_USER};"
  # `if` with `=`/`!=` compares whole strings, case-sensitively (a map would ignore case).
  [[ -n ${VLLM_API_KEY:-} ]] && auth_check="if (\$http_authorization != \"Bearer ${VLLM_API_KEY}\") {
                return 401 '{\"error\": \"Unauthorized\"}';
            }"
  cat <<CONF
# Rendered by autoglm-start at every container start; it may hold the API key, so only root reads it.
daemon off;
worker_processes 2;  # one phone agent's requests; the work is vLLM's
pid ${PROXY_DIR}/nginx.pid;
${user_line}
# warn, not info: info lines quote whole request header lines, the Authorization header included.
error_log ${PROXY_ERROR_LOG} warn;

events {
    worker_connections 1024;
}

http {
    server_tokens off;
    default_type application/json;
    client_body_temp_path ${PROXY_DIR}/client_body;
    proxy_temp_path ${PROXY_DIR}/proxy;
    fastcgi_temp_path ${PROXY_DIR}/fastcgi;
    uwsgi_temp_path ${PROXY_DIR}/uwsgi;
    scgi_temp_path ${PROXY_DIR}/scgi;
    # The method and path only: no query string and no header, so the key cannot reach the log.
    log_format autoglm '\$remote_addr [\$time_local] "\$request_method \$uri" \$status \$body_bytes_sent '
                       '\$request_time "\$http_x_forwarded_for"';
    access_log ${PROXY_ACCESS_LOG} autoglm;

    upstream vllm {
        server ${VLLM_HOST}:${VLLM_PORT};
        keepalive 8;
    }

    server {
        listen ${PROXY_HOST}:${PORT} default_server;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;

        location = /health {
            if (\$request_method !~ ^(GET|HEAD)\$) {
                return 405 '{"detail": "Method Not Allowed"}';
            }
            proxy_pass http://vllm/health;
            proxy_read_timeout 30s;
        }

        # RunPod Serverless load balancers: 200 ready, 204 still loading (vLLM listens only once the model is
        # loaded, so nginx's 502 for a refused connection means "loading"), vLLM's 503 (engine dead) as is.
        location = /ping {
            if (\$request_method !~ ^(GET|HEAD)\$) {
                return 405 '{"detail": "Method Not Allowed"}';
            }
            proxy_pass http://vllm/health;
            proxy_read_timeout 30s;
            error_page 502 = @loading;
        }

        location @loading {
            return 204;
        }

        location /v1/ {
            ${auth_check}
            # With a URI part, nginx sends its normalized path: /v1/../tokenize never reaches vLLM as such.
            proxy_pass http://vllm/v1/;
            # Server-sent events reach the client as vLLM writes them.
            proxy_buffering off;
            # Screenshots stream through to vLLM rather than into a temp file first.
            proxy_request_buffering off;
            client_body_buffer_size 1m;
            # Ten 5-megapixel screenshots, the most a prompt holds (--limit-mm-per-prompt image 10,
            # max_pixels 5000000), as PNGs that do not compress at all (RGBA, 4 bytes a pixel):
            # 10 x 5,000,000 x 4 B = 200 MB, in base64 x 4/3 = 267 MB; 300m leaves room for the JSON and text.
            client_max_body_size 300m;
            # A long generation is never cut here (RunPod's own proxy cuts pod requests at 100 s).
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            send_timeout 3600s;
        }

        location = /v1 {
            return 404 '{"detail": "Not Found"}';
        }

        location / {
            return 404 '{"detail": "Not Found"}';
        }
    }
}
CONF
}

start_proxy() {
  local conf=${PROXY_DIR}/nginx.conf
  mkdir -p "$PROXY_DIR"
  (umask 077 && proxy_conf > "$conf")
  nginx -t -q -c "$conf" || fail "nginx refused its configuration ${conf} (see above)."
  nginx -c "$conf" &
  proxy_pid=$!
  if [[ -n ${VLLM_API_KEY:-} ]]; then
    say "nginx on ${PROXY_HOST}:${PORT} in front of vLLM on ${VLLM_HOST}:${VLLM_PORT}: GET /health and GET /ping" \
      "open, /v1/ only with the API key, every other path 404."
  else
    say "nginx on ${PROXY_HOST}:${PORT} in front of vLLM on ${VLLM_HOST}:${VLLM_PORT}: no VLLM_API_KEY, so /v1/" \
      "is open to anyone (public endpoint); GET /health and GET /ping open, every other path 404."
  fi
}

start_vllm() {
  show_command "$@"
  vllm "$@" &
  vllm_pid=$!
}

alive() {  # pid...: true while any of them runs
  local pid
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}

# TERM each, give them STOP_GRACE_S seconds together, then KILL what is left, and reap them.
stop_processes() {
  local pid ticks=0
  kill -TERM "$@" 2>/dev/null || true
  while alive "$@"; do
    if (( ticks >= STOP_GRACE_S * 50 )); then
      say "still running ${STOP_GRACE_S} s after SIGTERM; sending SIGKILL." >&2
      kill -KILL "$@" 2>/dev/null || true
      break
    fi
    sleep 0.02
    ticks=$((ticks + 1))
  done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

stop_signal=""
on_signal() {  # the trap also stops the children, so a `wait` that started just after it still returns
  stop_signal=$1
  [[ -z ${proxy_pid:-} && -z ${vllm_pid:-} ]] || kill -TERM ${proxy_pid:-} ${vllm_pid:-} 2>/dev/null || true
}

ended() {  # name status other-name other-pid: one process ended, so the pod must end too
  local how="exited with status $2"
  (( $2 > 128 )) && how="was killed by signal $(( $2 - 128 ))"
  say "$1 ${how}; stopping $3. The container ends so that RunPod shows the pod as failed rather than" \
    "serving half (the log above says why $1 ended)." >&2
  stop_processes "$4"
  exit $(( $2 == 0 ? 1 : $2 ))
}

supervise() {  # `wait -n -p` needs bash 5.1 (Ubuntu 22.04 has 5.1.16)
  local exited status
  while true; do
    if [[ -n $stop_signal ]]; then
      stop_processes "$proxy_pid" "$vllm_pid"
      say "stopped on SIG${stop_signal}."
      exit 0
    fi
    status=0
    wait -n -p exited "$proxy_pid" "$vllm_pid" || status=$?
    case ${exited:-} in
      "$vllm_pid") ended vLLM "$status" nginx "$proxy_pid" ;;
      "$proxy_pid") ended nginx "$status" vLLM "$vllm_pid" ;;
      "") [[ -n $stop_signal ]] || fail "lost track of nginx and vLLM (wait answered ${status})." ;;
    esac
  done
}

require_count MAX_MODEL_LEN "$MAX_MODEL_LEN" 25480
require_count TENSOR_PARALLEL_SIZE "$TENSOR_PARALLEL_SIZE" 1
require_count PORT "$PORT" 8000
require_count VLLM_PORT "$VLLM_PORT" 8001
require_count STOP_GRACE_S "$STOP_GRACE_S" 10
require_count CACHE_WAIT_S "$CACHE_WAIT_S" 3600
require_count CACHE_STALE_S "$CACHE_STALE_S" 300
[[ $CACHE_BEAT_S =~ ^[0-9]+(\.[0-9]+)?$ && $CACHE_BEAT_S != 0 ]] || \
  fail "CACHE_BEAT_S=${CACHE_BEAT_S} is not a positive number of seconds; set it to e.g. 15 or unset it."
(( ${CACHE_BEAT_S%.*} < CACHE_STALE_S )) || fail "CACHE_BEAT_S=${CACHE_BEAT_S} is not below" \
  "CACHE_STALE_S=${CACHE_STALE_S}: waiting containers would take a live writer's lock. Lower CACHE_BEAT_S."
(( PORT != VLLM_PORT )) || fail "PORT and VLLM_PORT are both ${PORT}; nginx and vLLM need a port each."
[[ $PROXY_HOST =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || fail "PROXY_HOST=${PROXY_HOST} is not an IPv4 address like 0.0.0.0."
require_conf_word PROXY_DIR "$PROXY_DIR" /run/autoglm-proxy
require_conf_word PROXY_ACCESS_LOG "$PROXY_ACCESS_LOG" /dev/stdout
require_conf_word PROXY_ERROR_LOG "$PROXY_ERROR_LOG" stderr
require_conf_word PROXY_USER "$PROXY_USER" www-data
require_bearer_token

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
  --host "$VLLM_HOST"
  --port "$VLLM_PORT")
if (( TENSOR_PARALLEL_SIZE > 1 )); then
  serve+=(--tensor-parallel-size "$TENSOR_PARALLEL_SIZE")
fi
serve+=("$@")

trap 'on_signal TERM' TERM
trap 'on_signal INT' INT
trap on_exit EXIT
start_proxy
claim_cache
start_vllm "${serve[@]}"
start_cache_keeper
supervise
