import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import chi2_contingency

from training.titanic_chi2 import ContingencyTable, cramers_v, independence_test


def test_independence_test_agrees_with_the_textbook_formula() -> None:
    observed = np.array([[81, 233], [468, 109]])
    chi2, p_value, dof, expected = independence_test(observed, correction=False)
    row, col = observed.sum(axis=1, keepdims=True), observed.sum(axis=0, keepdims=True)
    by_hand = row @ col / observed.sum()
    assert np.allclose(expected, by_hand)
    assert chi2 == pytest.approx(((observed - by_hand) ** 2 / by_hand).sum())
    assert dof == 1
    assert p_value == pytest.approx(chi2_contingency(observed, correction=False).pvalue)
    assert 0 < cramers_v(chi2, observed) <= 1


@pytest.mark.parametrize(
    "table",
    [
        [[1, 2]],  # one row
        [[1], [2]],  # one column
        [[1, 2], [3]],  # ragged
        [[0, 0], [3, 4]],  # all-zero row
        [[0, 1], [0, 4]],  # all-zero column
        [[-1, 2], [3, 4]],  # negative count
        [[1.5, 2], [3, 4]],  # not an integer
    ],
)
def test_untestable_tables_are_refused(table: list[list[float]]) -> None:
    with pytest.raises(ValidationError) as error:
        ContingencyTable(table=table)  # type: ignore[arg-type]
    assert error.value.errors()[0]["loc"][0] == "table"
