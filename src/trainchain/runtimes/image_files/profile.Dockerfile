# trainchain training image, profile "@profile" (@description).
# Rendered from trainchain/runtimes/image_files/profile.Dockerfile by `trainchain images build
# @profile`. VENV_IMAGE is the hash-tagged image holding /opt/venv with the profile's pinned
# packages and /opt/trainchain/ca-bundle.crt; the runtime builds it first, running
# install-requirements.sh in a container with the package cache mounted (the classic builder
# has no cache mounts). `docker run IMAGE --help` explains mounts and variables.
ARG VENV_IMAGE
FROM ${VENV_IMAGE}
SHELL ["/bin/sh", "-eu", "-c"]
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    VIRTUAL_ENV=/opt/venv \
    PYTHONPATH=/opt/trainchain/agent \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_CERT=/opt/trainchain/ca-bundle.crt \
    SSL_CERT_FILE=/opt/trainchain/ca-bundle.crt \
    REQUESTS_CA_BUNDLE=/opt/trainchain/ca-bundle.crt \
    TRAINCHAIN_OUTPUT_DIR=/output \
    TRAINCHAIN_CHECKPOINT_DIR=/checkpoints@env
# any --user may write where nothing is mounted (and into new named volumes), as in /tmp
RUN useradd --uid 1000 --user-group --create-home --shell /bin/sh trainchain \
    && mkdir -p /code /app /output /checkpoints \
    && chown trainchain:trainchain /output /checkpoints \
    && chmod 1777 /output /checkpoints
COPY agent/ /opt/trainchain/agent/
COPY entrypoint.sh /opt/trainchain/entrypoint.sh
USER 1000:1000
WORKDIR /home/trainchain
ENTRYPOINT ["/bin/sh", "/opt/trainchain/entrypoint.sh"]
