"""Work budgets: a request whose instances ask for too much work is a 422 before the model
runs, with the limit named; up to the limit it is answered."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from service import ServiceSettings, create_app
from service.routes.sagemaker import build_sagemaker_router
from training import get_spec


@pytest.fixture(scope="module")
def client(trained_home: Path) -> Iterator[TestClient]:
    app = create_app(ServiceSettings(home=trained_home, log_json=False))
    with TestClient(app) as opened:
        yield opened


def quadratic(max_steps: int) -> dict[str, float | int]:
    # Tiny steps on a shallow bowl: it runs the whole budget without converging.
    return {"a": 1.0, "b": 0.0, "c": 0.0, "x0": 1000.0, "learning_rate": 1e-9,
            "max_steps": max_steps}  # fmt: skip


def test_gradient_descent_steps_are_budgeted_per_request(client: TestClient) -> None:
    budget = get_spec("gd-quadratic").max_work  # type: ignore[attr-defined]
    assert budget == 100_000
    at_limit = client.post(
        "/v1/models/gd-quadratic/predict", json={"instances": [quadratic(10_000)] * 10}
    )
    assert at_limit.status_code == 200, at_limit.text
    over = client.post(
        "/v1/models/gd-quadratic/predict", json={"instances": [quadratic(10_000)] * 11}
    )
    assert (over.status_code, over.json()["code"]) == (422, "work_budget_exceeded")
    assert "110,000 steps" in over.json()["detail"]
    assert "at most 100,000" in over.json()["detail"]


def test_contingency_table_cells_are_budgeted_per_request(client: TestClient) -> None:
    table = [[1] * 50 for _ in range(50)]
    over = client.post(
        "/v1/models/titanic-chi2/predict", json={"instances": [{"table": table}] * 101}
    )
    assert (over.status_code, over.json()["code"]) == (422, "work_budget_exceeded")
    assert "252,500 table cells" in over.json()["detail"]
    within = client.post("/v1/models/titanic-chi2/predict", json={"instances": [{"table": table}]})
    assert within.status_code == 200, within.text


def test_text_characters_are_budgeted_per_request(client: TestClient) -> None:
    message = {"text": "win a free prize now " * 238}  # 4,998 characters
    over = client.post("/v1/models/spam-svm/predict", json={"instances": [message] * 201})
    assert (over.status_code, over.json()["code"]) == (422, "work_budget_exceeded")
    assert "characters" in over.json()["detail"]
    within = client.post("/v1/models/spam-svm/predict", json={"instances": [message] * 3})
    assert within.status_code == 200, within.text


def test_an_answer_near_the_budget_is_serialised_off_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two long trajectories are a large answer though they are two predictions: over a
    tenth of the budget, the answer is written in the thread pool."""
    hops: list[str] = []
    original = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(repr(func))
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    short = client.post("/v1/models/gd-quadratic/predict", json={"instances": [quadratic(100)]})
    assert short.status_code == 200
    assert not any("model_dump_json" in hop for hop in hops)
    long = client.post(
        "/v1/models/gd-quadratic/predict", json={"instances": [quadratic(10_000)] * 2}
    )
    assert long.status_code == 200
    assert len(long.json()["predictions"][1]["trajectory"]) > 10_000
    assert any("model_dump_json" in hop for hop in hops)


def test_other_routes_parse_large_bodies_and_write_large_answers_off_the_event_loop(
    trained_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SageMaker's /invocations and the Open Inference Protocol's infer, like predict: a
    small request makes no thread-pool hop at all, a large one parses and writes in the
    thread pool."""
    catalog = [get_spec("iris-pca")]
    app = create_app(ServiceSettings(home=trained_home, log_json=False), catalog=catalog)
    app.include_router(build_sagemaker_router(catalog))
    hops: list[str] = []
    original = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        # An alias poll (this app's, or the module's other app's: the patch is process-wide)
        # is a hop of its own, on a timer: on a busy machine one can fall among a request's.
        if "LoadedModels.refresh" not in repr(func):
            hops.append(repr(func))
        return await original(func, *args, **kwargs)

    flower = get_spec("iris-pca").example_input.model_dump()
    # Many digits each: 1,000 flowers make a body of well over 64 KiB.
    flowers = [{k: v + i * 1e-13 for k, v in flower.items()} for i in range(1000)]
    tensors = {
        "inputs": [
            {"name": k, "shape": [len(flowers)], "datatype": "FP64", "data": [f[k] for f in flowers]}
            for k in flower
        ]
    }  # fmt: skip
    with TestClient(app) as client:
        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
        for batch in ([flower], flowers):
            hops.clear()
            sagemaker = client.post("/invocations", json={"instances": batch})
            assert sagemaker.status_code == 200, sagemaker.text
            sagemaker_hops = list(hops)
            hops.clear()
            body = {"inputs": [{**t, "shape": [len(batch)], "data": t["data"][: len(batch)]}
                               for t in tensors["inputs"]]}  # fmt: skip
            oip = client.post("/v2/models/iris-pca/infer", json=body)
            assert oip.status_code == 200, oip.text
            oip_hops = list(hops)
            if len(batch) == 1:
                assert sagemaker_hops == oip_hops == []
            else:
                assert any("_json_instances" in hop for hop in sagemaker_hops), sagemaker_hops
                assert any("answer" in hop for hop in sagemaker_hops), sagemaker_hops
                assert any("read" in hop for hop in oip_hops), oip_hops
                assert any("write" in hop for hop in oip_hops), oip_hops
