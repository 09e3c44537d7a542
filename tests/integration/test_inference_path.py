"""The one inference path, through the app, with fake models: hops, batching, import weight."""

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from model_registry import ModelRegistry, RegistrySettings, RegistryUnavailableError
from service import ServiceSettings, create_app
from service.predict_fast_path import LARGE_BODY_BYTES
from service.runtime.call_costs import measured_call_s
from service.runtime.inference import LARGE_ANSWER_OUTPUTS
from service.schemas import MAX_LISTED_ERRORS
from tests.fakes import (
    EchoArtifact,
    EchoInput,
    EchoOutput,
    EchoSpec,
    SlowEchoSpec,
    publish_fake_version,
)
from training import LoadContext, Predictor

FAKES = [EchoSpec(), SlowEchoSpec()]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    registry = ModelRegistry.from_settings(RegistrySettings(home=tmp_path))
    try:
        publish_fake_version(registry, offset=10)
        publish_fake_version(registry, SlowEchoSpec(), offset=10)
    finally:
        registry.close()
    return tmp_path


@pytest.fixture
async def client(home: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ServiceSettings(home=home, log_json=False), catalog=FAKES)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as opened,
    ):
        yield opened


@pytest.fixture
def count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call into the thread pool a request makes, by the name of the function sent
    there. The alias poll's refresh runs on a timer, not for a request: on a slow machine it
    can fall inside a test, so it is not counted."""
    hops: list[str] = []
    original: Callable[..., Any] = anyio.to_thread.run_sync

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        name = getattr(func, "__name__", repr(func))
        if "LoadedModels.refresh" not in name:
            hops.append(name)
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return hops


pytestmark = pytest.mark.anyio


async def test_a_predict_request_makes_one_thread_pool_hop_or_none_if_cheaper(
    home: Path, count_hops: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model call is the only hop, and a call cheaper than a hop makes none: the cost
    measured at load decides, per instance, so a large enough batch hops again."""
    measured = {"echo": 200e-6, "slow-echo": 0.03}  # what the load measured, fixed here
    monkeypatch.setattr(
        "service.runtime.loaded_models.measured_call_s", lambda p: measured[p.spec.name]
    )
    app = create_app(ServiceSettings(home=home, log_json=False, batching=False), catalog=FAKES)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        count_hops.clear()  # the start's own
        cheap = await client.post("/v1/models/echo/predict", json={"instances": [{"value": 1}]})
        assert cheap.json()["predictions"] == [{"value": 11.0, "batch_size": 1}]
        assert count_hops == []
        await client.post("/v1/models/echo/predict", json={"instances": [{"value": 1}] * 6})
        await client.post("/v1/models/slow-echo/predict", json={"instances": [{"value": 1}]})
        assert len(count_hops) == 2, count_hops  # six instances cost a hop; slow-echo one
        assert all("Predictor.predict" in hop for hop in count_hops)


class RefusingSpec(EchoSpec):
    def predict(self, artifact: EchoArtifact, batch: Sequence[EchoInput]) -> list[EchoOutput]:
        raise RuntimeError("this model cannot answer its own example")


async def test_the_cost_of_a_call_is_measured_on_the_example_at_load() -> None:
    artifact = EchoArtifact(offset=np.array(0.0))
    assert measured_call_s(Predictor(SlowEchoSpec(), 1, artifact)) >= SlowEchoSpec.call_s
    # A model that fails on its example is never run on the event loop.
    assert measured_call_s(Predictor(RefusingSpec(), 1, artifact)) == float("inf")


async def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(
    client: httpx.AsyncClient,
) -> None:
    async def ask(value: float) -> httpx.Response:
        return await client.post(
            "/v1/models/slow-echo/predict", json={"instances": [{"value": value}]}
        )

    responses = await asyncio.gather(*(ask(v) for v in range(24)))
    batch_sizes = []
    for value, response in enumerate(responses):
        assert response.status_code == 200, response.text
        [prediction] = response.json()["predictions"]
        assert prediction["value"] == value + 10, "each request gets its own answer"
        batch_sizes.append(prediction["batch_size"])
    assert max(batch_sizes) > 1
    exposition = (await client.get("/metrics")).text
    calls = _sample(exposition, 'practica_batch_size_count{model="slow-echo"}')
    assert calls < 24, "fewer model calls than requests"
    single = _sample(exposition, 'practica_batch_size_bucket{le="1.0",model="slow-echo"}')
    assert single < calls, "some batches held > 1 item"


async def test_concurrent_requests_for_a_cheap_model_share_a_call_on_the_event_loop(
    client: httpx.AsyncClient, count_hops: list[str]
) -> None:
    """echo answers in microseconds: the requests that reach it together share one call,
    made on the event loop, and each gets its own answer."""

    async def ask(value: float) -> httpx.Response:
        return await client.post("/v1/models/echo/predict", json={"instances": [{"value": value}]})

    count_hops.clear()
    responses = await asyncio.gather(*(ask(v) for v in range(16)))
    predictions = [r.json()["predictions"] for r in responses]
    assert [p[0]["value"] for p in predictions] == [v + 10 for v in range(16)]
    assert max(p[0]["batch_size"] for p in predictions) > 1
    assert count_hops == [], "no call left the event loop"
    exposition = (await client.get("/metrics")).text
    calls = _sample(exposition, 'practica_batch_size_count{model="echo"}')
    assert calls < 16, "fewer model calls than requests"


def _sample(exposition: str, series: str) -> float:
    """The value of one series in Prometheus's text format."""
    return float(
        next(line for line in exposition.splitlines() if line.startswith(series)).split()[-1]
    )


async def test_one_refused_instance_fails_only_its_own_request(
    client: httpx.AsyncClient,
) -> None:
    async def ask(instance: dict[str, Any]) -> httpx.Response:
        return await client.post("/v1/models/slow-echo/predict", json={"instances": [instance]})

    good, bad, other = await asyncio.gather(
        ask({"value": 1}), ask({"value": 2, "fail": True}), ask({"value": 3})
    )
    assert good.status_code == 200
    assert other.status_code == 200
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "instances", "fail"]


async def test_the_batcher_of_a_version_swapped_out_is_forgotten(home: Path) -> None:
    app: FastAPI = create_app(ServiceSettings(home=home, log_json=False), catalog=FAKES)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):

        async def ask() -> int:
            body = {"instances": [{"value": 1}]}
            response = await client.post("/v1/models/slow-echo/predict", json=body)
            assert response.status_code == 200, response.text
            return int(response.json()["version"])

        assert await ask() == 1
        registry: ModelRegistry = app.state.registry
        await asyncio.to_thread(publish_fake_version, registry, SlowEchoSpec(), offset=20)
        await asyncio.to_thread(registry.set_alias, "slow-echo", "production", 2)
        await asyncio.to_thread(app.state.models.refresh)
        assert await ask() == 2
        batchers = app.state.inference._batchers
    assert [key for key in batchers if key[0] == "slow-echo"] == [("slow-echo", 2)]


class BrokenEchoSpec(EchoSpec):
    """Published fine, but its artifact cannot be opened (like a malformed ONNX graph)."""

    name = "broken-echo"

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> EchoArtifact:
        raise RuntimeError("cannot parse /srv/secret/blobs/ab/cdef: not a graph")


async def test_a_model_that_fails_to_load_is_reported_and_the_others_serve(home: Path) -> None:
    registry = ModelRegistry.from_settings(RegistrySettings(home=home))
    try:
        publish_fake_version(registry, BrokenEchoSpec())
    finally:
        registry.close()
    app = create_app(
        ServiceSettings(home=home, log_json=False), catalog=[EchoSpec(), BrokenEchoSpec()]
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        ready = await client.get("/readyz")
        broken = await client.post(
            "/v1/models/broken-echo/predict", json={"instances": [{"value": 1}]}
        )
        working = await client.post("/v1/models/echo/predict", json={"instances": [{"value": 1}]})
    assert ready.status_code == 200
    reason = ready.json()["unavailable"]["broken-echo"]
    assert "RuntimeError" in reason
    assert "/srv" not in reason, "no path reaches a response"
    assert broken.status_code == 503
    assert broken.json()["code"] == "model_unavailable"
    assert "/srv" not in broken.text
    assert working.status_code == 200


class PickyEchoSpec(EchoSpec):
    """Its versions published with offset 99 cannot be opened."""

    name = "picky-echo"

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> EchoArtifact:
        artifact = super().load(files, context)
        if artifact.offset == 99:
            raise RuntimeError("this version's graph is malformed")
        return artifact


async def test_an_alias_moved_to_a_version_that_cannot_load_is_moved_back(home: Path) -> None:
    registry = ModelRegistry.from_settings(RegistrySettings(home=home))
    try:
        publish_fake_version(registry, PickyEchoSpec(), offset=1)  # v1
        publish_fake_version(registry, PickyEchoSpec(), offset=99)  # v2, unloadable
        registry.set_alias("picky-echo", "production", 1)
    finally:
        registry.close()
    settings = ServiceSettings(home=home, log_json=False, admin_token="admin-secret")
    app = create_app(settings, catalog=[PickyEchoSpec()])
    admin = {"Authorization": "Bearer admin-secret"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        url = "/v1/models/picky-echo/aliases/{}"
        moved = await client.put(url.format("production"), json={"version": 2}, headers=admin)
        staged = await client.put(url.format("staging"), json={"version": 2}, headers=admin)
        answer = await client.post(
            "/v1/models/picky-echo/predict", json={"instances": [{"value": 1}]}
        )
        aliases = (await client.get("/v1/models/picky-echo")).json()["aliases"]
        ready = (await client.get("/readyz")).json()
    assert moved.status_code == 503, moved.text
    assert moved.json()["code"] == "model_unavailable"
    assert "left at v1" in moved.json()["detail"]
    assert aliases == {"production": 1, "staging": 2}, "only the alias it serves moved back"
    assert staged.status_code == 200
    assert answer.json()["version"] == 1
    assert ready["unavailable"] == {}, "serving what the alias points at again"


async def test_a_database_outage_is_a_503_and_not_ready_while_loaded_models_serve(
    home: Path,
) -> None:
    app = create_app(ServiceSettings(home=home, log_json=False), catalog=FAKES)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        registry: ModelRegistry = app.state.registry
        working = registry._sessions
        # Nothing listens on port 1: every query fails to connect, as when the server is down.
        dead = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test")
        registry._sessions = sessionmaker(dead)
        with pytest.raises(RegistryUnavailableError):
            await asyncio.to_thread(app.state.models.refresh)
        listed = await client.get("/v1/models")
        ready = await client.get("/readyz")
        served = await client.post("/v1/models/echo/predict", json={"instances": [{"value": 1}]})
        registry._sessions = working
        await asyncio.to_thread(app.state.models.refresh)
        recovered = await client.get("/readyz")
        dead.dispose()
    assert listed.status_code == 503
    assert listed.json()["code"] == "registry_unavailable"
    assert (ready.status_code, ready.json()["status"]) == (503, "registry_unavailable")
    assert served.status_code == 200, "the versions in memory keep serving"
    assert recovered.status_code == 200


async def test_batching_can_be_switched_off_in_settings(home: Path) -> None:
    app: FastAPI = create_app(
        ServiceSettings(home=home, log_json=False, batching=False), catalog=FAKES
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        responses = await asyncio.gather(*(
            client.post("/v1/models/slow-echo/predict", json={"instances": [{"value": v}]})
            for v in range(6)
        ))  # fmt: skip
    assert {r.json()["predictions"][0]["batch_size"] for r in responses} == {1}


def test_importing_and_creating_the_app_loads_neither_matplotlib_nor_torch() -> None:
    """Report-only libraries and PyTorch stay out of the serving process."""
    script = (
        "import sys; from service import create_app, ServiceSettings; "
        "import tempfile; create_app(ServiceSettings(home=tempfile.mkdtemp())); "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'torch', "
        "'transformers'}); print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""


async def test_a_model_slower_than_the_timeout_is_a_504_and_the_server_goes_on(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SlowEchoSpec, "call_s", 3.0)
    settings = ServiceSettings(home=home, log_json=False, inference_timeout_s=1.0)
    app = create_app(settings, catalog=FAKES)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        slow = await client.post("/v1/models/slow-echo/predict", json={"instances": [{"value": 1}]})
        assert (slow.status_code, slow.json()["code"]) == (504, "inference_timeout")
        assert "PRACTICA_INFERENCE_TIMEOUT_S" in slow.json()["detail"]
        quick = await client.post("/v1/models/echo/predict", json={"instances": [{"value": 1}]})
        assert quick.status_code == 200
        assert (await client.get("/healthz")).status_code == 200


async def test_a_large_body_is_parsed_and_validated_off_the_event_loop(
    client: httpx.AsyncClient, count_hops: list[str]
) -> None:
    small = {"instances": [{"value": 1}] * 10}
    assert (await client.post("/v1/models/echo/predict", json=small)).is_success
    assert count_hops == []  # parsing ten instances costs less than a hop
    large = json.dumps({"instances": [{"value": i} for i in range(1000)]}, indent=32)
    assert len(large) > LARGE_BODY_BYTES
    answered = await client.post(
        "/v1/models/echo/predict", content=large, headers={"content-type": "application/json"}
    )
    assert answered.is_success
    assert len(answered.json()["predictions"]) == 1000
    assert "_parse" in count_hops[0]
    assert "_instances" in count_hops[1]


@pytest.mark.parametrize("padding", [0, 100], ids=["small-body", "large-body"])
async def test_a_422_lists_the_first_invalid_fields_and_counts_them_all(
    client: httpx.AsyncClient, padding: int
) -> None:
    """1,000 invalid instances would otherwise answer 1,000 errors (or, for images,
    784,000 of them); the answer names the first MAX_LISTED_ERRORS."""
    body = {"instances": [{"value": "not a number" + " " * padding}] * 1000}
    answered = await client.post("/v1/models/echo/predict?version=0", json=body)
    assert answered.status_code == 422
    detail = answered.json()["detail"]
    assert len(detail) == MAX_LISTED_ERRORS
    assert detail[0]["loc"] == ["query", "version"]  # the query's error first, as FastAPI
    assert detail[1]["loc"] == ["body", "instances", 0, "value"]
    assert answered.json()["error_count"] == 1001
    few = await client.post("/v1/models/echo/predict", json={"instances": [{"value": "x"}]})
    assert "error_count" not in few.json()


@pytest.mark.parametrize("access_log", [True, False])
async def test_the_access_log_can_be_limited_to_errors(
    home: Path, caplog: pytest.LogCaptureFixture, access_log: bool
) -> None:
    settings = ServiceSettings(home=home, log_json=False, access_log=access_log)
    app = create_app(settings, catalog=FAKES)
    logging.getLogger("service.access").addHandler(caplog.handler)  # it does not propagate
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client,
        ):
            caplog.clear()
            await client.post("/v1/models/echo/predict", json={"instances": [{"value": 1}]})
            await client.post("/v1/models/echo/predict", json={"instances": []})
    finally:
        logging.getLogger("service.access").removeHandler(caplog.handler)
    logged = [r.getMessage() for r in caplog.records if r.name == "service.access"]
    expected = ["POST /v1/models/echo/predict 200"] if access_log else []
    assert logged == [*expected, "POST /v1/models/echo/predict 422"]


async def test_a_large_answer_is_serialised_off_the_event_loop(
    client: httpx.AsyncClient, count_hops: list[str]
) -> None:
    few = {"instances": [{"value": i} for i in range(LARGE_ANSWER_OUTPUTS)]}
    assert len((await client.post("/v1/models/echo/predict", json=few)).json()["predictions"]) == 64
    assert count_hops == []
    many = {"instances": [{"value": i} for i in range(LARGE_ANSWER_OUTPUTS + 1)]}
    answered = await client.post("/v1/models/echo/predict", json=many)
    assert [p["value"] for p in answered.json()["predictions"]] == [i + 10.0 for i in range(65)]
    assert len(count_hops) == 1
    assert "model_dump_json" in count_hops[0]
