"""What the two XGBoost models on tabular data (loan-default, airbnb-price) share.

Both hold out a validation part that stops boosting early, and publish the booster cut
to its best round, so the trees after it are neither stored nor scored.
"""

from typing import Any

from pydantic import Field

from training.data import SplitConfig


class BoostingConfig(SplitConfig):
    validation_size: float = Field(
        0.2, gt=0, lt=1, description="share of the training part kept aside for early stopping"
    )
    max_rounds: int = Field(2000, ge=1, description="boosting rounds before early stopping")
    early_stopping_rounds: int = Field(
        100, ge=1, description="stop when the validation loss has not improved for this long"
    )
    n_jobs: int = Field(1, ge=1, le=2, description="XGBoost threads")


def boosting_params(config: BoostingConfig, objective: str, **params: Any) -> dict[str, Any]:
    """XGBoost's settings for `objective` with the config's threads and seed."""
    return {
        "objective": objective,
        "tree_method": "hist",
        "nthread": config.n_jobs,
        "seed": config.random_state,
        **params,
    }


def boost(
    params: dict[str, Any],
    train: Any,
    validation: Any,
    config: BoostingConfig,
    history: dict[str, Any] | None = None,
) -> Any:
    """A booster trained on the `train` DMatrix until `validation` stops improving, then cut.

    The last of the params' `eval_metric`s decides when to stop; `history` receives
    every metric per round for both parts.
    """
    import xgboost

    booster = xgboost.train(
        params, train, config.max_rounds, evals=[(train, "train"), (validation, "validation")],
        early_stopping_rounds=config.early_stopping_rounds, evals_result=history,
        verbose_eval=False,
    )  # fmt: skip
    return booster[: booster.best_iteration + 1]
