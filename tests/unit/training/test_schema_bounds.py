"""The input schemas state the bounds their validators enforce, so OpenAPI tells the truth.

JSON Schema patterns are checked with Python's `re`, as schemathesis and hypothesis read
them: a string matches exactly when validation accepts it.
"""

import re
from datetime import date
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from training import CATALOG, AnyModelSpec, ModelSpec
from training.data.images import ImageError
from training.models.airbnb_price import AirbnbPrice, Listing
from training.models.titanic_chi2 import ContingencyTable
from training.models.xor_net import XorFeatures
from training.schemas import BASE64, NOT_BLANK, Text, image_from_base64

# Every character Unicode calls white space, a few that look like it but are not, and text.
WHITE_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"
LOOKALIKES = "\x1c\x1f\u180e\u200b\ufeff"
TRICKY_TEXT = st.text(alphabet=st.sampled_from(WHITE_SPACE + LOOKALIKES + "aZ0"), max_size=12)


def _accepts(adapter: TypeAdapter[Any], value: object) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def _string_properties(schema: type[BaseModel]) -> dict[str, dict[str, Any]]:
    properties: dict[str, dict[str, Any]] = schema.model_json_schema()["properties"]
    return {
        name: branch
        for name, prop in properties.items()
        for branch in prop.get("anyOf", [prop])
        if branch.get("type") == "string"
    }


@given(TRICKY_TEXT)
def test_text_pattern_matches_exactly_what_trimming_leaves_non_empty(value: str) -> None:
    assert (re.search(NOT_BLANK, value) is not None) == _accepts(TypeAdapter(Text), value)


@pytest.mark.parametrize(
    "spec",
    [s for s in CATALOG if isinstance(s, ModelSpec)],
    ids=lambda spec: spec.name,
)
def test_trimmed_fields_state_that_blank_strings_are_refused(spec: AnyModelSpec) -> None:
    """A field that trims before counting says so in its schema, whatever model it is in."""
    blank = " \t\n\u3000"
    for name, prop in _string_properties(spec.input_schema).items():
        if prop.get("minLength", 0) < 1 or "format" in prop or prop.get("contentEncoding"):
            continue
        example = spec.example_input.model_dump()
        refused = not _accepts(TypeAdapter(spec.input_schema), {**example, name: blank})
        assert refused, f"{spec.name}.{name} accepts a blank string"
        assert re.search(prop.get("pattern", ""), blank) is None, (
            f"{spec.name}.{name} refuses blank strings but its schema allows them"
        )


@given(st.text(alphabet=st.sampled_from("AZaz09+/=\n -_é"), max_size=14))
@example("AAAA=")  # padding after a complete group: the lenient decoder took it
@example("AAAA\n")  # `$` in a pattern matches before a final newline
def test_base64_pattern_matches_exactly_what_validation_accepts(value: str) -> None:
    """Equal in both directions: not even padding after a complete group slips through."""
    try:
        image_from_base64(value)
    except ImageError as error:
        decodes = "base64" not in error.message  # decoded, then found not to be an image
    else:
        decodes = True
    assert (re.search(BASE64, value) is not None) == decodes


def _review_date_pattern() -> str:
    prop = Listing.model_json_schema()["properties"]["last_review"]
    [date_schema] = [branch for branch in prop["anyOf"] if branch.get("format") == "date"]
    pattern: str = date_schema["pattern"]
    return pattern


def test_review_date_schema_states_the_2008_bound() -> None:
    assert re.search(_review_date_pattern(), "2007-12-31") is None
    assert re.search(_review_date_pattern(), "2008-01-01") is not None


@given(st.dates(min_value=date(1000, 1, 1)))
def test_review_date_pattern_matches_exactly_the_dates_accepted(day: date) -> None:
    listing = {**AirbnbPrice.example_input.model_dump(), "last_review": day.isoformat()}
    accepted = _accepts(TypeAdapter(Listing), listing)
    assert (re.search(_review_date_pattern(), day.isoformat()) is not None) == accepted


def test_xor_bits_accept_json_integers_written_with_a_decimal_point() -> None:
    """JSON Schema counts 1.0 as an integer; strictness still refuses booleans and strings."""
    assert XorFeatures.model_validate_json('{"a": 1.0, "b": 0.0}') == XorFeatures(a=1, b=0)
    for refused in ('{"a": true, "b": 0}', '{"a": "1", "b": 0}', '{"a": 0.5, "b": 0}'):
        with pytest.raises(ValidationError):
            XorFeatures.model_validate_json(refused)


def test_contingency_table_schema_states_no_all_zero_row() -> None:
    row_schema = ContingencyTable.model_json_schema()["properties"]["table"]["items"]
    assert row_schema["contains"] == {"minimum": 1}
    with pytest.raises(ValidationError, match="all zero"):
        ContingencyTable(table=[[0, 0], [1, 2]])
