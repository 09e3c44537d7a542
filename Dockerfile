# syntax=docker/dockerfile:1
# Practica's images, two targets of one build:
#
#   docker build -t practica .                            serving (the default: last stage)
#   docker build --target trainer -t practica-trainer .   trains the catalog into a registry
#
# The serving image is SageMaker-compatible: SageMaker starts it as `docker run IMAGE serve`,
# which runs `practica container serve`. It listens on 8080 (SAGEMAKER_BIND_TO_PORT
# overrides) and serves the `practica export` bundle that SageMaker unpacks into
# /opt/ml/model. It installs the project without its `train` extra: no PyTorch, no
# transformers, no matplotlib. See docs/operations.md, "SageMaker".

ARG PYTHON_IMAGE=python:3.11-slim

# ---- base: the interpreter, an empty virtual environment, an unprivileged user
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv \
 && useradd --system --uid 10001 --user-group --create-home practica
WORKDIR /opt/practica

# ---- requirements: every distribution each install needs, pinned (scripts/lock.sh)
FROM base AS requirements
COPY requirements/serving.lock requirements/train.lock ./

# ---- wheel: the project itself, built once for both targets
FROM base AS wheel
COPY pyproject.toml README.md ./
COPY model_registry model_registry
COPY training training
COPY service service
COPY clients clients
RUN pip wheel --no-deps --wheel-dir /wheels .

# ---- serving-deps: serving's libraries, a layer rebuilt only when the pins change
FROM base AS serving-deps
RUN --mount=type=bind,from=requirements,source=/opt/practica/serving.lock,target=/tmp/serving.lock \
    pip install --requirement /tmp/serving.lock

# ---- trainer: serving's libraries, the `train` extra and the bundled datasets
FROM serving-deps AS trainer
# PyTorch's CPU build: the default wheel on PyPI brings gigabytes of CUDA libraries.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN --mount=type=bind,from=requirements,source=/opt/practica/train.lock,target=/tmp/train.lock \
    pip install --extra-index-url "${TORCH_INDEX_URL}" --requirement /tmp/train.lock
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    pip install --no-deps /wheels/practica-*.whl
COPY data /opt/practica/data
ENV PRACTICA_DATA_DIR=/opt/practica/data \
    PRACTICA_HOME=/var/lib/practica
RUN mkdir -p /var/lib/practica && chown practica:practica /var/lib/practica
VOLUME /var/lib/practica
USER practica
# Then `docker run -v REGISTRY:/var/lib/practica IMAGE export NAME... --out /var/lib/practica/model.tar.gz`
ENTRYPOINT ["practica"]
CMD ["train", "--all"]

# ---- serving: what SageMaker runs
FROM serving-deps AS serving
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    pip install --no-deps /wheels/practica-*.whl
# SageMaker sets SAGEMAKER_BIND_TO_PORT only on images that declare they honour it, and
# makes multi-model endpoints only of images that declare the multi-model API.
LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true \
      com.amazonaws.sagemaker.capabilities.multi-models=true
EXPOSE 8080
# No USER: SageMaker runs its containers as root, and a non-root user can be refused the
# model folder it mounts. Elsewhere, `docker run --user practica` works: the bundle is
# imported into a temporary folder, nothing is written next to the image's files.
ENTRYPOINT ["practica", "container"]
CMD ["serve"]
