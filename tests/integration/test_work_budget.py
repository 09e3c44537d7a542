"""Work budgets: a request whose instances ask for too much work is a 422 before the model
runs, with the limit named; up to the limit it is answered."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from service import ServiceSettings, create_app
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
