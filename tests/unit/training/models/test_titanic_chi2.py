import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy.stats import chi2_contingency

from training.models.titanic_chi2 import (
    ContingencyTable,
    TitanicChi2,
    TitanicChi2TrainConfig,
    cramers_v,
    independence_test,
)
from training.run import TrainingRun
from training.spec import LoadContext


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
def test_contingency_table_refuses_untestable_tables(table: list[list[float]]) -> None:
    with pytest.raises(ValidationError) as error:
        ContingencyTable(table=table)
    assert error.value.errors()[0]["loc"][0] == "table"


def test_results_round_trip_through_the_file_old_versions_use() -> None:
    passengers = pd.DataFrame({
        "Sex": ["female", "female", "male", "male", "male", "female"],
        "Pclass": [1, 2, 3, 3, 1, 2],
        "Survived": [1, 1, 0, 0, 1, 0],
    })  # fmt: skip
    spec = TitanicChi2()
    results = spec.fit(TitanicChi2TrainConfig(), passengers, TrainingRun())
    assert results.sex.observed == [[1, 2], [2, 1]]  # female, male x died, survived
    assert results.pclass.categories == ["1st class", "2nd class", "3rd class"]
    files = spec.save(results)
    assert list(files) == ["chi2_results.json"]
    assert spec.load(files, LoadContext()) == results
