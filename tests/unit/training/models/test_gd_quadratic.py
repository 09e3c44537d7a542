import math

import pytest
from pydantic import ValidationError

from training.models.gd_quadratic import GdQuadratic, Quadratic, TunedDescent, descend
from training.spec import LoadContext


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


def test_solve_scales_the_trained_step_by_the_curvature() -> None:
    tuned = TunedDescent(learning_rate=0.5, tolerance=1e-9, max_steps=100, start_x=10.0, sweep=[])
    # 0.5 / a = 1 / (2a) is Newton's step: one update lands on the minimiser -b / 2a = 1.
    result = tuned.solve(Quadratic(a=4.0, b=-8.0, c=1.0, x0=10.0))
    assert result.converged
    assert result.steps == 1
    assert result.minimum_x == pytest.approx(1.0)
    assert result.minimum_value == pytest.approx(-3.0)


def test_tuned_descent_is_stored_in_the_file_old_versions_use() -> None:
    spec = GdQuadratic()
    tuned = TunedDescent(learning_rate=0.5, tolerance=1e-9, max_steps=100, start_x=10.0, sweep=[])
    files = spec.save(tuned)
    assert list(files) == ["descent.json"]
    assert spec.load(files, LoadContext()) == tuned
