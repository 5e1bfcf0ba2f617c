#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for trainchain's demo and test suite. Idempotent.
#
#   scripts/setup.sh demo    # Python packages for the CLI and the keras example
#   scripts/setup.sh test    # + system packages and services the tests use (root)
#   scripts/setup.sh bench   # + the benchmarks' peers (KerasTuner) on top of the demo set-up
set -euo pipefail
what="${1:-demo}"
cd "$(dirname "$0")/.."

apt_install() {
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != "0" ]; then echo "need root to apt-get install ${missing[*]}" >&2; exit 1; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

apt_install git
python3 -m pip install --quiet --progress-bar off -e ".[server,docker,jenkins]"

if [ "$what" = "bench" ]; then
    python3 -m pip install --quiet --progress-bar off -e ".[server,docker,jenkins,bench]"
fi

if [ "$what" = "test" ]; then
    apt_install docker.io debootstrap chromium postgresql
    python3 -m pip install --quiet --progress-bar off -e ".[server,docker,jenkins,postgres,mlflow,ray,test]"
    # A Keras 2 interpreter (the keras-legacy profile's pins) for the agent's Keras 2 test.
    keras2=${TRAINCHAIN_KERAS2_VENV:-/opt/trainchain-keras2}
    if [ ! -x "$keras2/bin/python" ] || ! "$keras2/bin/python" -c "import keras_preprocessing" 2>/dev/null; then
        python3 -m venv "$keras2"
        "$keras2/bin/pip" install --quiet --progress-bar off $(python3 -c \
            'from trainchain.profiles import profile_packages; print(" ".join(profile_packages("keras-legacy")))')
    fi
    bash scripts/start-dockerd.sh
    bash scripts/base-image.sh
    bash scripts/start-postgres.sh
fi
