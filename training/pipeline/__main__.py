"""`python -m training.pipeline`: the command every DVC stage runs, and the file generator."""

from pathlib import Path
from typing import Annotated

import typer
import yaml

from model_registry import ModelRegistry, RegistrySettings
from training.pipeline.metrics import write_metrics
from training.pipeline.params import PARAMS_FILE, load_params_config, render_params
from training.pipeline.stages import DVC_FILE, render_pipeline
from training.runner import CHECKOUT, train_and_publish

# The catalog imports every model's libraries (seconds); the commands import it when they
# run, so `--help` stays quick.

app = typer.Typer(
    help="Reproduce training with DVC: the command of each stage, and the files that list them.",
    no_args_is_help=True,
    add_completion=False,
)


class _EchoListener:
    """Prints the runner's phases: `dvc repro` shows a stage's output as it runs."""

    def __init__(self, name: str) -> None:
        self._name = name

    def on_phase(self, phase: str) -> None:
        typer.echo(f"{self._name}: {phase}")

    def on_progress(self, message: str, done: int | None, total: int | None) -> None:
        """A spec's own steps (epochs, grid points) are too many for a log; phases suffice."""


@app.command()
def train(
    name: Annotated[str, typer.Argument(help="the model to train (its stage in dvc.yaml)")],
    params: Annotated[
        Path,
        typer.Option(
            exists=True, dir_okay=False, help="params file: the model's section is its config"
        ),
    ] = Path(PARAMS_FILE),
    metrics: Annotated[
        Path | None, typer.Option(help="write the held-out metrics here as JSON")
    ] = None,
) -> None:
    """Train NAME with its section of the params file, publish it, write its metrics."""
    from training.catalog import get_spec

    try:
        spec = get_spec(name)
    except KeyError as error:
        raise typer.BadParameter(str(error.args[0]), param_hint="NAME") from None
    try:
        config = load_params_config(spec, params)
    except (ValueError, yaml.YAMLError) as error:
        raise typer.BadParameter(str(error), param_hint="--params") from None
    # The same registry `practica train` publishes to: PRACTICA_* variables, then .env.
    settings = RegistrySettings(_env_file=".env")
    with ModelRegistry.from_settings(settings) as registry:
        outcomes = train_and_publish(spec, registry, config=config, listener=_EchoListener(name))
    for outcome in outcomes:
        badge = "production" if outcome.promoted else "kept previous production"
        typer.echo(f"{name} v{outcome.version.version}: {badge} ({outcome.reason})")
    if metrics is not None:
        write_metrics(metrics, outcomes)


@app.command()
def write() -> None:
    """Regenerate params.yaml and dvc.yaml from the catalog and the code's defaults."""
    from training.catalog import CATALOG

    for file_name, text in (
        (PARAMS_FILE, render_params(CATALOG)),
        (DVC_FILE, render_pipeline(CATALOG)),
    ):
        (CHECKOUT / file_name).write_text(text, encoding="utf-8")
        typer.echo(f"wrote {file_name}")


if __name__ == "__main__":
    app()
