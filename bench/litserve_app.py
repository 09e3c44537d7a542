"""LitServe over the same loaded models as `peer_apps.naive_app`, for `bench/peers.py`.

One `LitAPI` per model at Practica's path, validating instances with the model's own
input schema. LitServe runs the HTTP server and an inference worker as separate
processes (the API pickled across), so it is started as a script:

    PRACTICA_HOME=.practica python bench/litserve_app.py PORT
"""

import sys
from typing import Any

import litserve as ls
from peer_apps import MODELS, load


class ModelAPI(ls.LitAPI):  # type: ignore[misc]
    def __init__(self, name: str) -> None:
        super().__init__(api_path=f"/v1/models/{name}/predict")
        self.name = name

    def setup(self, device: str) -> None:
        self.spec, self.artifact = load([self.name])[self.name]

    def decode_request(self, request: dict[str, Any]) -> list[Any]:
        return [self.spec.input_schema.model_validate(i) for i in request["instances"]]

    def predict(self, instances: list[Any]) -> list[Any]:
        return self.spec.predict(self.artifact, instances)  # type: ignore[no-any-return]

    def encode_response(self, predictions: list[Any]) -> dict[str, Any]:
        return {"predictions": [p.model_dump(mode="json") for p in predictions]}


if __name__ == "__main__":
    server = ls.LitServer([ModelAPI(name) for name in MODELS], accelerator="cpu")
    server.run(port=int(sys.argv[1]), log_level="warning", generate_client_file=False)
