# namegen: the model server. Two stages: the build stage assembles a venv (CPU-only torch plus exactly the
# runtime dependencies listed in pyproject.toml); the final stage copies that venv, the app and the shipped
# models onto a clean slim image, with no compilers or build tools, and runs as a non-root user.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY constraints.txt pyproject.toml /build/
# CPU-only torch from PyTorch's own index, at the version constraints.txt pins (as `make venv` installs it): the
# PyPI wheel would pull in several GB of CUDA libraries.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu -c /build/constraints.txt torch
# The runtime dependencies, read from pyproject.toml so the image installs what the project declares (torch is
# already satisfied by the CPU build above).
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/build/pyproject.toml', 'rb'))['project']['dependencies']))" > /build/requirements.txt \
    && pip install --no-cache-dir -c /build/constraints.txt -r /build/requirements.txt

FROM python:3.11-slim-bookworm
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
CMD ["python", "-m", "app.serve"]
