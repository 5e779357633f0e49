# namegen: the model server. The build stage installs requirements-image.lock (exact versions, hash-checked,
# CPU-only torch) and the app in place at /srv; the final stage copies that venv, the app and the shipped models
# onto a clean base, with no compilers or build tools, and runs as a non-root user.
#
# For air-gapped or proxied builds (`make image` passes what is set):
#   --build-arg BASE_IMAGE=...       another Python 3.11 base with the venv module (e.g. from your registry)
#   --build-context torch-wheels=DIR --build-arg TORCH_WHEELS=/wheels
#                                    torch's locked CPU wheel from a local directory, not PyTorch's index
#   --secret id=ca,src=FILE          a CA bundle pip trusts (a TLS-intercepting proxy); never stored in a layer
ARG BASE_IMAGE=python:3.11-slim-bookworm

# Empty unless --build-context torch-wheels=DIR replaces it.
FROM scratch AS torch-wheels

FROM ${BASE_IMAGE} AS build
ARG TORCH_WHEELS=https://download.pytorch.org/whl/cpu/torch/
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements-image.lock /build/
RUN --mount=type=bind,from=torch-wheels,target=/wheels \
    --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && pip install --no-cache-dir --require-hashes --only-binary=:all: --find-links "$TORCH_WHEELS" \
        -r /build/requirements-image.lock
# The app installed in place: /srv/app stays beside /srv/model_artifacts, as in a clone, and the venv gets the
# `namegen` command. training/ is not in the image: `namegen train` says to run it from a clone.
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir --no-deps --no-build-isolation --editable .

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NAMEGEN_HOST=0.0.0.0 \
    NAMEGEN_PORT=8000
RUN groupadd --system --gid 10001 namegen \
    && useradd --system --uid 10001 --gid namegen --no-create-home --shell /usr/sbin/nologin namegen
WORKDIR /srv
COPY --from=build /opt/venv /opt/venv
COPY app ./app
COPY model_artifacts ./model_artifacts
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('NAMEGEN_PORT', '8000') + '/healthz', timeout=3)"]
CMD ["python", "-m", "app.http.serve"]
