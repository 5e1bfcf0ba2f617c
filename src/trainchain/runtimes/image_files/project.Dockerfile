# A project's layer on top of a profile image: its own requirements, and with --bake its code.
# Built by `trainchain images build PATH [--bake]` / the docker runtime; PROFILE_IMAGE is the
# hash-tagged profile image. The requirements go first so a code-only change reuses their layer.
ARG PROFILE_IMAGE
FROM ${PROFILE_IMAGE}
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG BAKED=0
SHELL ["/bin/sh", "-eu", "-c"]
USER 0
COPY requirements.txt /opt/trainchain/project-requirements.txt
RUN if [ -s /opt/trainchain/project-requirements.txt ]; then \
        PIP_NO_CACHE_DIR=1 /opt/venv/bin/pip install --no-input --progress-bar off \
            -r /opt/trainchain/project-requirements.txt; \
    fi
COPY project/ /app/
ENV TRAINCHAIN_BAKED=${BAKED}
USER 1000:1000
