"""Property-based tests of the SageMaker body readers: whatever bytes arrive, the answer is
instances or a 4xx naming the problem, never an exception of another kind."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.multi_model import HostError, _page_token, _token_name
from service.routes.sagemaker_io import (
    CSV,
    JSON,
    ModelInput,
    RefusedError,
    _by_preference,
    _csv_instances,
    _json_instances,
    answer_type,
)
from training import get_spec

TITANIC = ModelInput.of(get_spec("titanic-survival"))  # type: ignore[arg-type]
IRIS = ModelInput.of(get_spec("iris-pca"))  # type: ignore[arg-type]
REFUSALS = (RequestValidationError, RefusedError)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["3", "1", "male", "female", "S", "", "nan", "inf", "-1", "1e309", '"']),
    st.integers(-10, 200).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
rows = st.lists(st.lists(cells, max_size=12), max_size=6)


def _csv(table: list[list[str]]) -> bytes:
    return "\n".join(",".join(row) for row in table).encode()


def _is_located(error: RequestValidationError) -> bool:
    return all(issue["loc"][0] == "body" for issue in error.errors())


def _outcome(call: Callable[[], Any]) -> tuple[Any, Exception | None]:
    """What `call` returned, or the refusal it raised; anything else fails the test."""
    try:
        return call(), None
    except REFUSALS as refusal:
        return None, refusal


@FAST
@given(rows)
def test_any_csv_table_is_instances_or_a_located_422(table: list[list[str]]) -> None:
    instances, refusal = _outcome(lambda: _csv_instances(_csv(table), TITANIC))
    if isinstance(refusal, RequestValidationError):
        assert _is_located(refusal)
    else:
        assert refusal is None
        assert 1 <= len(instances) <= TITANIC.max_instances


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_as_csv_or_json_are_refused_cleanly(body: bytes) -> None:
    _outcome(lambda: _csv_instances(body, IRIS))
    _outcome(lambda: _json_instances(body, IRIS))


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@FAST
@given(json_values)
def test_any_json_document_is_instances_or_a_422(document: Any) -> None:
    try:
        body = json.dumps(document).encode()
    except ValueError:  # NaN and infinities are not JSON
        return
    instances, refusal = _outcome(lambda: _json_instances(body, IRIS))
    if refusal is not None:
        assert isinstance(refusal, RequestValidationError)
        assert _is_located(refusal)
    else:
        assert instances


@FAST
@given(st.text(max_size=80))
def test_any_accept_header_chooses_json_or_csv_or_is_a_406(accept: str) -> None:
    chosen, refusal = _outcome(lambda: answer_type(accept))
    if refusal is not None:
        assert isinstance(refusal, RefusedError)
        assert refusal.status == 406
    else:
        assert chosen in (JSON, CSV)
    assert all(media_range == media_range.lower() for media_range in _by_preference(accept))


@FAST
@given(st.text(min_size=1, max_size=256))
def test_page_tokens_round_trip_and_forgeries_are_400(name: str) -> None:
    assert _token_name(_page_token(name)) == name
    forged = _page_token(name) + "%"
    with pytest.raises(HostError) as refused:
        _token_name(forged)
    assert refused.value.status == 400
