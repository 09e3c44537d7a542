"""The servers Practica is measured beside in `bench/peers.py`.

- `floor_app`: a bare Starlette endpoint answering a constant: what HTTP alone costs.
- `naive_app`: what a user writes first, FastAPI calling the very same loaded models:
  one `POST /v1/models/{name}/predict` per model, the spec's own input schema, no
  registry lookups, batching, metrics or error mapping.
- LitServe (`litserve_app.py`), calling the same loaded models in its inference worker.

The models come from the registry in `PRACTICA_HOME` (production versions), loaded as
Practica loads them (`spec.load`): the peers serve the same compiled runtimes.
"""

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from model_registry import ModelRegistry, RegistrySettings
from training import LoadContext
from training.catalog import get_spec
from training.runner import REPORT_PREFIX

MODELS = os.environ.get("PEER_MODELS", "iris-pca,house-prices,loan-default").split(",")


def floor_app() -> Starlette:
    async def constant(_request: Any) -> Response:
        return Response(b'{"ok":true}', media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", constant, methods=["GET", "POST"])])


def load(names: list[str]) -> dict[str, tuple[Any, Any]]:
    """Each model's spec and loaded production version."""
    home = Path(os.environ["PRACTICA_HOME"])
    loaded = {}
    with ModelRegistry.from_settings(RegistrySettings(home=home)) as registry:
        for name in names:
            spec = get_spec(name)
            record = registry.resolve(name)
            files = [f for f in record.files if not f.startswith(REPORT_PREFIX)]
            loaded[name] = (spec, spec.load(registry.read_files(record, files), LoadContext()))
    return loaded


def naive_app() -> FastAPI:
    loaded = load(MODELS)
    app = FastAPI()

    @app.post("/v1/models/{name}/predict")
    async def predict(name: str, request: Request) -> JSONResponse:
        spec, artifact = loaded[name]
        body = await request.json()
        instances = [spec.input_schema.model_validate(i) for i in body["instances"]]
        predictions = spec.predict(artifact, instances)  # type: ignore[attr-defined]
        return JSONResponse({"predictions": [p.model_dump(mode="json") for p in predictions]})

    return app
