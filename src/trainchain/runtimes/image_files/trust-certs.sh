#!/bin/sh
# Build time: write /opt/trainchain/ca-bundle.crt = the base image's CA bundle + certs/*.crt.
# minbase Debian has no update-ca-certificates, so we append to a bundle of our own and point
# PIP_CERT / SSL_CERT_FILE / REQUESTS_CA_BUNDLE at it (set in the Dockerfile).
# The build inputs (certs/) are read from $TRAINCHAIN_BUILD_DIR (mounted, never in the image).
set -eu
inputs="${TRAINCHAIN_BUILD_DIR:-/opt/trainchain}"
out=/opt/trainchain/ca-bundle.crt
system=/etc/ssl/certs/ca-certificates.crt
mkdir -p "$(dirname "$out")"
: >"$out"
if [ -s "$system" ]; then
    cat "$system" >>"$out"
elif python3 -c 'import pip._vendor.certifi' 2>/dev/null; then
    # python:*-slim without ca-certificates: fall back to the bundle pip ships
    cat "$(python3 -c 'import pip._vendor.certifi as c; print(c.where())')" >>"$out"
fi
for cert in "$inputs"/certs/*.crt "$inputs"/certs/*.pem; do
    [ -f "$cert" ] || continue
    echo "trusting extra CA certificate $(basename "$cert")"
    cat "$cert" >>"$out"
    printf '\n' >>"$out"
done
if [ ! -s "$out" ]; then
    echo "no CA certificates in the base image and none given: install ca-certificates in the base image or pass --ca-certs DIR" >&2
    exit 1
fi
