#!/bin/sh
# Build time: create /opt/venv and install $TRAINCHAIN_BUILD_DIR/requirements.txt into it.
# The build inputs (requirements.txt, wheels/, tools/uv, certs/) are mounted read-only at
# $TRAINCHAIN_BUILD_DIR and never land in the image. uv (tools/uv, the controller's own binary)
# when it runs here and INSTALLER is not "pip"; pip otherwise, or when uv fails for a reason
# other than unsatisfiable pins. uv keeps its cache in $UV_CACHE_DIR when one is mounted (the
# same downloads serve every later build); without it, no cache. Bytecode is compiled as pip
# does (the final image never writes it: every container would compile TensorFlow again).
set -eu
inputs="${TRAINCHAIN_BUILD_DIR:-/opt/trainchain}"
reqs="$inputs/requirements.txt"
wheels="$inputs/wheels"
uv="$inputs/tools/uv"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export PIP_CERT=/opt/trainchain/ca-bundle.crt SSL_CERT_FILE=/opt/trainchain/ca-bundle.crt \
    REQUESTS_CA_BUNDLE=/opt/trainchain/ca-bundle.crt PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180
if [ -z "${UV_CACHE_DIR:-}" ]; then
    export UV_NO_CACHE=1
fi
if [ "${INSTALLER:-uv}" != pip ] && [ -x "$uv" ] && "$uv" --version >/dev/null 2>&1; then
    echo "installing with $("$uv" --version)"
    # --seed: pip stays in the venv for the project layer and for scripts that call it
    if "$uv" venv --seed --quiet --python "$(command -v python3)" /opt/venv \
        && UV_INDEX_URL="${PIP_INDEX_URL:-https://pypi.org/simple}" UV_FIND_LINKS="$wheels" \
            UV_INDEX_STRATEGY=unsafe-best-match UV_LINK_MODE=copy NO_COLOR=1 \
            UV_COMPILE_BYTECODE=1 \
            UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1 \
            "$uv" pip install --python /opt/venv/bin/python -r "$reqs" >"$log" 2>&1; then
        cat "$log"
        exit 0
    fi
    cat "$log"
    if grep -q "No solution found when resolving dependencies" "$log"; then
        exit 1  # pip would find no more on the same index
    fi
    echo "uv failed; retrying with pip"
    rm -rf /opt/venv
fi
python3 -m venv /opt/venv
/opt/venv/bin/pip install --no-input --progress-bar off --find-links "$wheels" -r "$reqs"
