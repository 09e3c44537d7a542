import math

import pytest
from pydantic import ValidationError

from training.gd_quadratic import Quadratic, descend


def test_descent_converges_to_the_vertex() -> None:
    result = descend(a=2.0, b=-8.0, x0=10.0, learning_rate=0.1, tolerance=1e-10, max_steps=1000)
    assert result.outcome == "converged"
    assert result.trajectory[-1] == pytest.approx(2.0, abs=1e-8)  # -b / 2a
    assert result.trajectory[0] == 10.0


def test_too_large_a_step_diverges_and_stops_with_finite_points() -> None:
    result = descend(a=1.0, b=0.0, x0=1.0, learning_rate=1.5, tolerance=1e-9, max_steps=10_000)
    assert result.outcome == "diverged"
    assert result.steps < 10_000
    assert all(math.isfinite(x) for x in result.trajectory)


def test_max_steps_bounds_the_work() -> None:
    result = descend(a=1.0, b=0.0, x0=1e6, learning_rate=1e-6, tolerance=1e-12, max_steps=50)
    assert result.outcome == "max_steps"
    assert result.steps == 50


@pytest.mark.parametrize("a", [0.0, -1.0])
def test_non_convex_quadratics_are_refused_by_the_schema(a: float) -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        Quadratic(a=a, b=0, c=0, x0=1)
