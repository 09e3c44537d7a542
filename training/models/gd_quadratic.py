"""Module 2: gradient descent from scratch on a quadratic, with a tuned step size.

Training sweeps a grid of step sizes on f(x) = x² and keeps the one that reaches the
minimum in the fewest steps. Serving runs the same hand-written descent on any convex
quadratic a·x² + b·x + c, scaling the trained step by the curvature when the request
does not choose one.
"""

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from training.frameworks.json import JsonSpec
from training.report.figures import new_figure, subplots
from training.run import TrainingRun
from training.spec import Floor, HeldOut, Schema, TrainConfig

COEFFICIENT_LIMIT = 1e6
DIVERGENCE_FACTOR = 1e6
"""A distance to the minimum this many times the starting one means the step is too large."""

Outcome = Literal["converged", "diverged", "max_steps"]


class Quadratic(Schema):
    """f(x) = a·x² + b·x + c and where the descent starts."""

    a: float = Field(
        gt=0,
        le=COEFFICIENT_LIMIT,
        description="curvature coefficient; must be positive: with a ≤ 0 the parabola opens "
        "downwards or is a line, so it has no minimum to descend to",
    )
    b: float = Field(ge=-COEFFICIENT_LIMIT, le=COEFFICIENT_LIMIT, description="linear coefficient")
    c: float = Field(ge=-COEFFICIENT_LIMIT, le=COEFFICIENT_LIMIT, description="constant term")
    x0: float = Field(ge=-COEFFICIENT_LIMIT, le=COEFFICIENT_LIMIT, description="starting point")
    learning_rate: float | None = Field(
        None,
        gt=0,
        le=10,
        description="step size; omitted: the trained step divided by a, since the gradient "
        "2a·x + b grows with the curvature",
    )
    max_steps: int | None = Field(
        None, ge=1, le=10_000, description="most updates to take; omitted: the trained default"
    )


class DescentResult(Schema):
    minimum_x: float = Field(
        description="where the descent stopped: the minimiser when converged, else the last x"
    )
    minimum_value: float = Field(description="f(minimum_x)")
    steps: int = Field(ge=0, description="updates taken")
    trajectory: list[float] = Field(description="every x visited, starting with x0")
    converged: bool = Field(description="whether x came within the tolerance of the minimiser")


class GdQuadraticTrainConfig(TrainConfig):
    start_x: float = Field(
        10.0, ge=-COEFFICIENT_LIMIT, le=COEFFICIENT_LIMIT, description="where the sweep starts"
    )
    learning_rates: tuple[float, ...] = Field(
        (0.001, 0.01, *(round(0.05 * k, 2) for k in range(1, 23))),
        min_length=1,
        description="step sizes swept; 1.0 and above cannot converge on x² (|1 - 2·lr| ≥ 1)",
    )
    tolerance: float = Field(
        1e-9, gt=0, le=1e-6, description="stop when |x - x*| ≤ tolerance · (1 + |x|)"
    )
    max_steps: int = Field(1000, ge=1, le=10_000, description="the serving default as well")
    n_check_quadratics: int = Field(
        200, ge=1, description="random convex quadratics the curvature-scaled step is checked on"
    )


@dataclass(frozen=True)
class Descent:
    trajectory: list[float]
    outcome: Outcome

    @property
    def steps(self) -> int:
        return len(self.trajectory) - 1


def evaluate_quadratic(a: float, b: float, c: float, x: float) -> float:
    # Horner form: x·x overflows long before x·(a·x + b) does for small a.
    return x * (a * x + b) + c


def descend(
    a: float, b: float, x0: float, learning_rate: float, tolerance: float, max_steps: int
) -> Descent:
    """Gradient descent on a·x² + b·x (+ c), a > 0, by x ← x - lr · (2a·x + b).

    For a quadratic, |f'(x)| / f'' = |2a·x + b| / 2a is exactly the distance to the
    minimiser (the Newton step), so the stopping test needs no closed-form answer. The
    run stops early, keeping only finite points, when x or f(x) would overflow or when
    the distance has grown by DIVERGENCE_FACTOR.
    """
    curvature = 2.0 * a
    x = x0
    trajectory = [x]
    start_distance = abs(curvature * x + b) / curvature
    for _ in range(max_steps + 1):
        gradient = curvature * x + b
        distance = abs(gradient) / curvature
        if distance <= tolerance * (1.0 + abs(x)):
            return Descent(trajectory, "converged")
        if len(trajectory) > max_steps:
            break
        if distance > DIVERGENCE_FACTOR * start_distance:
            return Descent(trajectory, "diverged")
        x_next = x - learning_rate * gradient
        if not (math.isfinite(x_next) and math.isfinite(evaluate_quadratic(a, b, 0.0, x_next))):
            return Descent(trajectory, "diverged")
        x = x_next
        trajectory.append(x)
    return Descent(trajectory, "max_steps")


@dataclass(frozen=True)
class SweepRow:
    learning_rate: float
    steps: int
    outcome: Outcome
    final_abs_error_x: float


@dataclass(frozen=True)
class TunedDescent:
    """The artifact: a step size tuned on f(x) = x² (a = 1) and the stopping rule."""

    learning_rate: float
    tolerance: float
    max_steps: int
    start_x: float
    sweep: list[SweepRow]

    def solve(self, quadratic: Quadratic) -> DescentResult:
        """Descend `quadratic` with its own step, or the tuned one scaled by 1/a."""
        a, b, c = quadratic.a, quadratic.b, quadratic.c
        learning_rate = quadratic.learning_rate or self.learning_rate / a
        max_steps = quadratic.max_steps or self.max_steps
        result = descend(a, b, quadratic.x0, learning_rate, self.tolerance, max_steps)
        x = result.trajectory[-1]
        return DescentResult(
            minimum_x=x,
            # Finite: descend keeps only points where x·(a·x + b) is finite, and c is bounded.
            minimum_value=evaluate_quadratic(a, b, c, x),
            steps=result.steps,
            trajectory=result.trajectory,
            converged=result.outcome == "converged",
        )


def sweep_learning_rates(start_x: float, config: GdQuadraticTrainConfig) -> list[SweepRow]:
    """Descend f(x) = x² (minimiser 0) from `start_x` once per step size."""
    rows = []
    for learning_rate in sorted(set(config.learning_rates)):
        descent = descend(1.0, 0.0, start_x, learning_rate, config.tolerance, config.max_steps)
        final_error = abs(descent.trajectory[-1])
        rows.append(SweepRow(learning_rate, descent.steps, descent.outcome, final_error))
    return rows


def _minimiser(quadratic: Quadratic) -> float:
    return -quadratic.b / (2.0 * quadratic.a)


def _fastest(rows: Sequence[SweepRow]) -> SweepRow:
    converged = [row for row in rows if row.outcome == "converged"]
    if not converged:
        raise ValueError("no step size of the sweep converged; widen `learning_rates`")
    # Among equally fast steps the smallest is furthest from the divergence boundary.
    return min(converged, key=lambda row: (row.steps, row.learning_rate))


@dataclass(frozen=True)
class Problems:
    tuning: Quadratic
    """f(x) = x² from the configured start: the step size is tuned and scored here."""
    check: list[Quadratic]
    """Random convex quadratics of other curvatures, never seen by the sweep."""


class GdQuadratic(
    JsonSpec[Quadratic, DescentResult, GdQuadraticTrainConfig, Problems, TunedDescent]
):
    name, module, kind = "gd-quadratic", 2, "optimiser"
    title = "Gradient descent from scratch on a quadratic"
    artifact_name = "descent"  # the file name versions have always used
    example_input = Quadratic(a=2.0, b=-8.0, c=3.0, x0=10.0, learning_rate=0.1, max_steps=500)
    floors = (Floor("abs_error_x", maximum=1e-6),)
    # Each instance may take 10,000 steps and return them all: keep batches small, and
    # the steps of a request to what answers in a few megabytes.
    max_batch_size = 100
    max_work, work_unit = 100_000, "steps"

    def work(self, instance: Quadratic) -> int:
        # Without max_steps, the version's own limit applies: the config's default.
        default: int = GdQuadraticTrainConfig.model_fields["max_steps"].default
        return instance.max_steps or default

    def smoke_config(self) -> GdQuadraticTrainConfig:
        return GdQuadraticTrainConfig(
            learning_rates=(0.01, 0.1, 0.3, 0.5, 0.9, 1.1), n_check_quadratics=20
        )

    def load_data(self, config: GdQuadraticTrainConfig, run: TrainingRun) -> Problems:
        """No dataset: f(x) = x² to tune on, and random quadratics to check the scaled step."""
        rng = np.random.default_rng(config.random_state)
        n = config.n_check_quadratics
        # Curvatures spread over six decades, so the check exercises the 1/a scaling.
        coefficients = np.column_stack([
            10 ** rng.uniform(-3, 3, n), rng.uniform(-100, 100, (n, 3))
        ])  # fmt: skip
        run.record_dataset("random_quadratics", coefficients.tobytes())
        check = [Quadratic(a=a, b=b, c=c, x0=x0) for a, b, c, x0 in coefficients.tolist()]
        return Problems(Quadratic(a=1.0, b=0.0, c=0.0, x0=config.start_x), check)

    def fit(self, config: GdQuadraticTrainConfig, data: Problems, run: TrainingRun) -> TunedDescent:
        run.step(f"sweeping {len(config.learning_rates)} step sizes on f(x) = x²")
        rows = sweep_learning_rates(data.tuning.x0, config)
        return TunedDescent(
            learning_rate=_fastest(rows).learning_rate,
            tolerance=config.tolerance,
            max_steps=config.max_steps,
            start_x=data.tuning.x0,
            sweep=rows,
        )

    def evaluate(
        self,
        artifact: TunedDescent,
        data: Problems,
        config: GdQuadraticTrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:
        result = artifact.solve(data.tuning)
        abs_error = abs(result.minimum_x - _minimiser(data.tuning))
        checked = [(artifact.solve(q), _minimiser(q)) for q in data.check]
        converged_share = sum(r.converged for r, _ in checked) / len(checked)
        check_error = max(abs(r.minimum_x - x_star) for r, x_star in checked)
        worst_steps = max(r.steps for r, _ in checked)

        run.add_table("learning_rate_sweep", [asdict(row) for row in artifact.sweep])
        run.add_table("random_quadratics", {
            "n": len(checked),
            "a_range": [min(q.a for q in data.check), max(q.a for q in data.check)],
            "converged_share": converged_share,
            "max_abs_error_x": check_error,
            "max_steps_taken": worst_steps,
        })  # fmt: skip
        diverging = [row.learning_rate for row in artifact.sweep if row.outcome == "diverged"]
        run.note(
            f"On f(x) = x² from x0 = {artifact.start_x:g}, the step {artifact.learning_rate:g} "
            f"reaches the minimum in {result.steps} step(s), |x - x*| = {abs_error:.1e}. For a "
            "quadratic each update maps x - x* to (1 - 2a·lr)(x - x*), so lr = 1/(2a) lands on "
            "the minimiser at once (it is Newton's step), 1/(2a) < lr < 1/a overshoots but "
            "still converges, a tiny step crawls, and lr ≥ 1/a oscillates or diverges"
            + (f" (smallest diverging step swept: {min(diverging):g})." if diverging else ".")
        )
        run.note(
            "Unless a request chooses its own step, serving divides the trained step by a. "
            f"On {len(checked)} random convex quadratics (a from 1e-3 to 1e3) that scaled step "
            f"converged in {converged_share:.0%} of cases within {worst_steps} step(s); worst "
            f"|x - x*| = {check_error:.1e}."
        )
        _plot_paths(run, artifact)
        _plot_sweep(run, artifact)
        return {
            "abs_error_x": abs_error,
            "steps_to_converge": float(result.steps),
            "learning_rate": artifact.learning_rate,
            "random_quadratics_converged_share": converged_share,
            "random_quadratics_max_abs_error_x": check_error,
        }

    def held_out(self, config: GdQuadraticTrainConfig, run: TrainingRun) -> HeldOut:
        tuning = self.load_data(config, run).tuning  # f(x) = x² from the configured start

        def score(answers: list[dict[str, Any]]) -> dict[str, float]:
            [answer] = answers
            return {
                "abs_error_x": abs(answer["minimum_x"] - _minimiser(tuning)),
                "steps_to_converge": float(answer["steps"]),
            }

        # Without learning_rate and max_steps, as evaluate solves it: the served defaults.
        return HeldOut([tuning.model_dump(exclude_none=True)], score)

    def predict(self, artifact: TunedDescent, batch: Sequence[Quadratic]) -> list[DescentResult]:
        return [artifact.solve(quadratic) for quadratic in batch]


def _plot_paths(run: TrainingRun, artifact: TunedDescent) -> None:
    """The first steps on f(x) = x² of the chosen step, a small one, an overshooting one."""
    start, too_large = artifact.start_x, 1.1
    paths = {
        f"chosen step {artifact.learning_rate:g}": artifact.learning_rate,
        "small step 0.1": 0.1,
        "overshooting step 0.9": 0.9,
    }
    figure, axes_row = subplots(1, len(paths), figsize=(13, 4), sharey=True)
    for axes, (label, learning_rate) in zip(axes_row, paths.items(), strict=True):
        shown = descend(1.0, 0.0, start, learning_rate, artifact.tolerance, 30)
        steps = f"{shown.steps} step(s)" if shown.outcome == "converged" else "first 30 steps"
        _draw_path(axes, shown.trajectory, f"{label}: {steps}")
    axes_row[0].set_ylabel("f(x) = x²")  # the panels share the y axis
    figure.suptitle(f"Gradient descent on f(x) = x², starting at x0 = {start:g}")
    run.add_plot("descent_path", figure)

    figure, axes = new_figure()
    path = descend(1.0, 0.0, start, too_large, artifact.tolerance, 8).trajectory
    growth = 2 * too_large - 1
    _draw_path(axes, path, f"step {too_large:g} ≥ 1/a diverges: |x| grows {growth:g}-fold per step")
    axes.set_ylabel("f(x) = x²")
    run.add_plot("divergence", figure)


def _plot_sweep(run: TrainingRun, artifact: TunedDescent) -> None:
    figure, axes = new_figure()
    markers = {"converged": ("o", "C0"), "max_steps": ("v", "C1"), "diverged": ("x", "C3")}
    for outcome, (marker, colour) in markers.items():
        rows = [row for row in artifact.sweep if row.outcome == outcome]
        if rows:
            axes.scatter([r.learning_rate for r in rows], [r.steps for r in rows],
                         marker=marker, color=colour, label=outcome.replace("_", " "))  # fmt: skip
    axes.axvline(artifact.learning_rate, color="C2", linestyle="--",
                 label=f"chosen {artifact.learning_rate:g}")  # fmt: skip
    axes.set(xlabel="step size (learning rate)", ylabel="steps taken (log scale)", yscale="log",
             title="Steps to |x - x*| ≤ tolerance on f(x) = x², by step size")  # fmt: skip
    axes.legend()
    run.add_plot("steps_vs_learning_rate", figure)


def _draw_path(axes: Any, path: list[float], title: str) -> None:
    xs = np.asarray(path)
    reach = max(float(np.abs(xs).max()), 1.0) * 1.1
    grid = np.linspace(-reach, reach, 400)
    axes.plot(grid, grid * grid, color="0.6", linewidth=1)
    axes.plot(xs, xs * xs, "o", color="C0", markersize=4)
    for x_from, x_to in itertools.pairwise(xs):
        axes.annotate("", xy=(x_to, x_to * x_to), xytext=(x_from, x_from * x_from),
                      arrowprops={"arrowstyle": "->", "color": "C1", "lw": 1})  # fmt: skip
    axes.plot([xs[0]], [xs[0] * xs[0]], "s", color="C2")  # the start
    axes.set(xlabel="x", title=title)
    axes.grid(alpha=0.3)
