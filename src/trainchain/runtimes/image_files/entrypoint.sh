#!/bin/sh
# The image's ENTRYPOINT: train as soon as the container starts.
#   docker run IMAGE [ENTRYPOINT [ARGS...]]  ->  python -m trainchain.agent [ENTRYPOINT [ARGS...]]
set -eu

usage() {
    cat <<'TEXT'
trainchain training image: the container trains as soon as it starts.

  docker run --rm --user "$(id -u):$(id -g)" \
      -v "$PWD":/code:ro -v "$PWD/out":/output [-v "$PWD/ckpt":/checkpoints] \
      IMAGE [ENTRYPOINT [ARGS...]]

runs `python -m trainchain.agent ENTRYPOINT [ARGS...]` on the project. Without ENTRYPOINT it is
found: entrypoint: in trainchain.yaml, else train.py, else main.py, else the only *.ipynb.

Mounts
  /code          the project (read-only is fine: it is copied to a writable scratch directory
                 first, because many scripts write next to themselves; TRAINCHAIN_COPY_CODE=0
                 runs in place). Images built with `trainchain images build PATH --bake` carry
                 the project in /app and need no /code.
  /output        the trained model, metrics.json and events.jsonl (TRAINCHAIN_OUTPUT_DIR)
  /checkpoints   checkpoints; mount it to resume after a crash (TRAINCHAIN_CHECKPOINT_DIR)

Variables
  TRAINCHAIN_PARAMS          JSON of parameter values, e.g. '{"epochs": 3}'
  TRAINCHAIN_OUTPUT_DIR      default /output
  TRAINCHAIN_CHECKPOINT_DIR  default /checkpoints
  TRAINCHAIN_EVENTS          the JSON-lines events file; default $TRAINCHAIN_OUTPUT_DIR/events.jsonl
  TRAINCHAIN_CODE            the project directory; default /code if mounted, else /app
  TRAINCHAIN_COPY_CODE       1 (default when the project is read-only) or 0

Bind-mounted host directories must be writable by the container's user: pass
--user "$(id -u):$(id -g)" so the files it writes belong to you.
TEXT
}

case "${1:-}" in
    -h | --help | help) usage; exit 0 ;;
esac

code="${TRAINCHAIN_CODE:-}"
if [ -z "$code" ]; then
    if [ -d /code ] && [ -n "$(ls -A /code 2>/dev/null)" ]; then
        code=/code
    elif [ "${TRAINCHAIN_BAKED:-0}" = 1 ]; then
        code=/app
    else
        echo "trainchain: no project in /code: mount one with -v \"\$PWD\":/code:ro, or bake it with 'trainchain images build PATH --bake' (docker run IMAGE --help)" >&2
        exit 2
    fi
fi

# A user id without a passwd entry gets HOME=/, which Keras and pip cannot write to.
if [ ! -w "${HOME:-/}" ]; then
    export HOME="${TMPDIR:-/tmp}/home"
    mkdir -p "$HOME"
fi

export TRAINCHAIN_OUTPUT_DIR="${TRAINCHAIN_OUTPUT_DIR:-/output}"
export TRAINCHAIN_CHECKPOINT_DIR="${TRAINCHAIN_CHECKPOINT_DIR:-/checkpoints}"
export TRAINCHAIN_EVENTS="${TRAINCHAIN_EVENTS:-$TRAINCHAIN_OUTPUT_DIR/events.jsonl}"
for dir in "$TRAINCHAIN_OUTPUT_DIR" "$TRAINCHAIN_CHECKPOINT_DIR"; do
    mkdir -p "$dir" 2>/dev/null || true
    if [ ! -w "$dir" ]; then
        echo "trainchain: $dir is not writable by uid $(id -u): run with --user \"\$(id -u):\$(id -g)\" or make the mounted directory writable" >&2
        exit 2
    fi
done

copy="${TRAINCHAIN_COPY_CODE:-}"
if [ -z "$copy" ]; then
    if [ -w "$code" ]; then copy=0; else copy=1; fi
fi
if [ "$copy" = 1 ]; then
    work="$(mktemp -d "${TMPDIR:-/tmp}/code.XXXXXX")"
    cp -R "$code"/. "$work"/
    code="$work"
fi
cd "$code"

# No entrypoint given: trainchain.yaml's entrypoint:, else train.py, main.py, the only notebook.
if [ "$#" = 0 ]; then
    found=""
    if [ -f trainchain.yaml ]; then
        found="$(sed -n 's/^entrypoint:[[:space:]]*["'\'']\{0,1\}\([^"'\''#[:space:]]*\).*$/\1/p' trainchain.yaml | head -n 1)"
    fi
    for candidate in train.py main.py; do
        if [ -z "$found" ] && [ -f "$candidate" ]; then found="$candidate"; fi
    done
    if [ -z "$found" ]; then
        set -- ./*.ipynb
        if [ "$#" = 1 ] && [ -f "$1" ]; then found="$1"; fi
    fi
    if [ -z "$found" ]; then
        echo "trainchain: no training entrypoint in $code: looked for entrypoint: in trainchain.yaml, train.py, main.py, a single *.ipynb; pass it: docker run IMAGE script.py [ARGS...]" >&2
        exit 2
    fi
    echo "trainchain: entrypoint $found"
    set -- "$found"
fi

# Not PID 1 (docker run --init, or the trainchain runtime): the init forwards signals.
if [ "$$" != 1 ]; then
    exec python -m trainchain.agent "$@"
fi
# PID 1 ignores signals it does not handle: forward them so `docker stop` and Ctrl-C work.
python -m trainchain.agent "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT HUP
status=0
while :; do
    wait "$child" && status=0 || status=$?
    # wait returns early when a trapped signal arrives; go on until the child has ended
    kill -0 "$child" 2>/dev/null || break
done
exit "$status"
