#!/bin/sh
# Build time: create /opt/venv and install /opt/trainchain/requirements.txt into it.
# uv (tools/uv, the controller's own binary put into the build context) when it runs here and
# INSTALLER is not "pip"; pip otherwise, or when uv fails for a reason other than unsatisfiable
# pins. Bytecode is compiled as pip does (the final image never writes it: every container
# would compile TensorFlow again). No uv cache: the classic builder (the Docker SDK's) has no
# cache mounts, and a cache left in a layer is dead weight.
set -eu
reqs=/opt/trainchain/requirements.txt
wheels=/opt/trainchain/wheels
uv=/opt/trainchain/tools/uv
log=/tmp/uv-install.log
if [ "${INSTALLER:-uv}" != pip ] && [ -x "$uv" ] && "$uv" --version >/dev/null 2>&1; then
    echo "installing with $("$uv" --version)"
    # --seed: pip stays in the venv for the project layer and for scripts that call it
    if "$uv" venv --seed --quiet --python "$(command -v python3)" /opt/venv \
        && UV_INDEX_URL="${PIP_INDEX_URL:-https://pypi.org/simple}" UV_FIND_LINKS="$wheels" \
            UV_INDEX_STRATEGY=unsafe-best-match UV_NO_CACHE=1 UV_LINK_MODE=copy NO_COLOR=1 \
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
