"""The `practica` command: train, serve, inspect and move models."""

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from model_registry import ModelRegistry, RegistryError, export_bundle, import_bundle
from service.settings import UVICORN_OPTIONS, ServiceSettings, SettingsError, load_settings

if TYPE_CHECKING:
    from training import AnySpec, Profile

# The catalog imports every model's libraries (seconds); commands import it when they
# need it, so `--help` and `alias` stay quick.

app = typer.Typer(
    help="Practica: train the roadmap's models, version them, serve them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # `main` turns any failure into one line
)
models_app = typer.Typer(help="Inspect registered models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
container_app = typer.Typer(
    help="The SageMaker-compatible image's entrypoint: `docker run IMAGE serve` runs "
    "`practica container serve`.",
    no_args_is_help=True,
)
app.add_typer(container_app, name="container")
deploy_app = typer.Typer(
    help="Deploy an exported bundle (`practica export`) to a cloud platform.",
    no_args_is_help=True,
)
app.add_typer(deploy_app, name="deploy")
console = Console()
errors = Console(stderr=True)

HostOption = Annotated[str, typer.Option(help="interface to listen on")]
PortOption = Annotated[int, typer.Option(help="TCP port")]


def main() -> None:
    """The `practica` command: a failure is one line saying what went wrong, never a
    traceback (PRACTICA_TRACEBACK=1 shows it, for a bug report)."""
    try:
        app()
    except Exception as error:
        if os.environ.get("PRACTICA_TRACEBACK") == "1":
            raise
        _fail(f"{type(error).__name__}: {_first_line(error)} (PRACTICA_TRACEBACK=1 shows where)")


def _fail(message: str) -> NoReturn:
    """End the command with status 1 and one `error:` line on stderr."""
    errors.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    raise SystemExit(1)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else "no message"


@contextmanager
def _registry() -> Iterator[ModelRegistry]:
    """The configured registry, closed afterwards; its errors end the command in one line."""
    try:
        with ModelRegistry.from_settings(_settings()) as registry:
            yield registry
    except RegistryError as error:
        _fail(_first_line(error))


def _settings() -> ServiceSettings:
    """The PRACTICA_* settings; a variable that cannot be used ends the command in one line."""
    try:
        return load_settings(ServiceSettings)
    except SettingsError as error:
        _fail(str(error))


class _BarListener:
    """One model's bar: it advances on the runner's phases; a spec's own progress (epoch
    3/20, a grid search) shows in a second bar beneath while that phase lasts."""

    def __init__(self, progress: Progress, task: TaskID, phases: int) -> None:
        self._progress = progress
        self._task = task
        self._phases = phases
        self._detail: TaskID | None = None
        self._started = False

    def on_phase(self, phase: str) -> None:
        self._close_detail()
        self._progress.update(self._task, description=phase, advance=1 if self._started else 0)
        self._started = True

    def on_progress(self, message: str, done: int | None, total: int | None) -> None:
        if total is None:
            self._progress.update(self._task, description=message)
            return
        if self._detail is None:
            self._detail = self._progress.add_task(message, total=total, model="")
        self._progress.update(self._detail, description=message, completed=done, total=total)

    def finish(self) -> None:
        self._close_detail()
        self._progress.update(self._task, description="done", completed=self._phases)

    def _close_detail(self) -> None:
        if self._detail is not None:
            self._progress.remove_task(self._detail)
            self._detail = None


TRAINING_LIBRARIES = ("torch", "mlxtend", "matplotlib")
"""A few of the `train` extra's libraries: the serving image installs none of them."""


def _require_training_libraries() -> None:
    missing = [name for name in TRAINING_LIBRARIES if importlib.util.find_spec(name) is None]
    if missing:
        errors.print(
            f"Training needs the `train` extra ({', '.join(missing)} missing here): "
            "pip install 'practica[train]'",
            soft_wrap=True,
            markup=False,
        )
        raise typer.Exit(1)


def _train(
    specs: list["AnySpec"],
    registry: ModelRegistry,
    profile: "Profile",
    data: Path | None,
    *,
    force_promotion: bool = False,
) -> None:
    _require_training_libraries()
    from training import train_and_publish
    from training.runner import PHASES_PER_STAGE

    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[model]:<20}"),
        TextColumn("{task.description:<30}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task("all models", total=len(specs), model="")
        for spec in specs:
            phases = len(spec.stages(profile)) * PHASES_PER_STAGE
            listener = _BarListener(
                progress, progress.add_task("starting", total=phases, model=spec.name), phases
            )
            outcomes = train_and_publish(
                spec,
                registry,
                profile=profile,
                data_path=data,
                listener=listener,
                force_promotion=force_promotion,
            )
            listener.finish()
            progress.advance(overall)
            for outcome in outcomes:
                v = outcome.version
                shown = ", ".join(f"{k}={val:.4g}" for k, val in list(v.metrics.items())[:4])
                badge = (
                    "[green]production[/]"
                    if outcome.promoted
                    else "[yellow]kept previous production[/]"
                )
                progress.console.print(f"  {v.name} v{v.version} {badge}  {shown}")
                progress.console.print(f"    {outcome.reason}", style="dim", markup=False)


@app.command()
def train(
    names: Annotated[
        list[str] | None, typer.Argument(help="models to train (see `practica models list`)")
    ] = None,
    all_models: Annotated[bool, typer.Option("--all", help="train every catalog model")] = False,
    profile: Annotated[
        Literal["full", "smoke"],
        typer.Option(help="full (quality floors) or smoke (seconds, for tests)"),
    ] = "full",
    data: Annotated[
        Path | None, typer.Option(help="your own copy of the dataset (one model only)")
    ] = None,
    force_promotion: Annotated[
        bool,
        typer.Option(
            "--force-promotion",
            help="move production to each new version even if it misses a quality floor "
            "or does not beat the version serving",
        ),
    ] = False,
) -> None:
    """Train models on their bundled datasets and publish a new version of each.

    A new version takes the `production` alias only if it meets its quality floors and
    beats the version serving (a full-profile version always replaces a smoke one).
    """
    if all_models == bool(names):
        raise typer.BadParameter("name models to train, or pass --all (not both)")
    from training import CATALOG, get_spec

    try:
        specs = list(CATALOG) if all_models else [get_spec(name) for name in names or []]
    except KeyError as error:
        raise typer.BadParameter(str(error.args[0])) from None
    if data is not None and len(specs) != 1:
        raise typer.BadParameter("--data applies to one model at a time", param_hint="--data")
    with _registry() as registry:
        _train(specs, registry, profile, data, force_promotion=force_promotion)


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Serve every registered model over HTTP (settings from PRACTICA_* variables)."""
    import tempfile

    import uvicorn

    from service.metrics import MULTIPROCESS_DIR

    _settings()  # each worker reads them again; a bad one is said here, once, in one line
    console.print(f"Serving on http://{host}:{port}  (docs at /docs)")
    with tempfile.TemporaryDirectory(prefix="practica-metrics-") as metrics_dir:
        if workers > 1:  # the workers count together (see service.metrics)
            os.environ[MULTIPROCESS_DIR] = metrics_dir
        uvicorn.run(
            "service.app:create_server_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **UVICORN_OPTIONS,
        )


@container_app.command("serve")
def container_serve(
    host: HostOption = "0.0.0.0",
    port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            show_default=False,
            help="TCP port (default: $SAGEMAKER_BIND_TO_PORT, else 8080)",
        ),
    ] = None,
) -> None:
    """Serve the bundle in $SAGEMAKER_BASE_DIR/model (default /opt/ml/model) as SageMaker
    expects: GET /ping, POST /invocations, and every route of `practica serve`.

    The folder holds an unpacked `practica export` bundle (SageMaker unpacks model.tar.gz
    there), or model.tar.gz itself. /ping answers 503 until every model is loaded, then
    200; SIGTERM lets requests in flight finish, then exits with status 0.
    """
    from service.container import ContainerError, read_environment, serve_bundle

    try:
        environment, settings = read_environment()
        serve_bundle(environment, settings, host=host, port=port or environment.bind_to_port)
    except ContainerError as error:
        errors.print(Text.assemble(("error: ", "bold red"), str(error)), soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def up(host: HostOption = "127.0.0.1", port: PortOption = 8000) -> None:
    """Train every model missing from the registry, or served by a smoke-profile version
    (seconds of training, for tests), with the full profile; then serve."""
    from training import CATALOG
    from training.runner import production_version

    with _registry() as registry:
        present = {m.name for m in registry.list_models()}
        missing = []
        for spec in CATALOG:
            serving = production_version(registry, spec.name)
            smoke = serving and registry.get_version(spec.name, serving).lineage.profile != "full"
            if spec.name not in present or smoke:
                missing.append(spec)
        if missing:
            console.print(
                f"Training {len(missing)} model(s) missing or trained with the smoke profile..."
            )
            _train(missing, registry, "full", None)
        else:
            console.print("Every catalog model is registered.")
    serve(host=host, port=port, workers=1)


@models_app.command("list")
def list_models() -> None:
    """Every catalog model with its versions and aliases."""
    from training import CATALOG

    with _registry() as registry:
        registered = {m.name: m for m in registry.list_models()}
    table = Table("model", "module", "kind", "versions", "aliases")
    for spec in CATALOG:
        model = registered.get(spec.name)
        versions = ", ".join(map(str, model.versions)) if model else "[dim]not trained[/]"
        aliases = ", ".join(f"{a}→v{v}" for a, v in model.aliases.items()) if model else ""
        table.add_row(spec.name, str(spec.module), spec.kind, versions, aliases)
    console.print(table)


@models_app.command("show")
def show_model(name: str) -> None:
    """One model's versions with their metrics and lineage."""
    with _registry() as registry:
        versions = registry.list_versions(name)
    for v in versions:
        aliases = f" ({', '.join(v.aliases)})" if v.aliases else ""
        console.rule(f"{v.name} v{v.version}{aliases}")
        lineage = v.lineage
        dirty = " (uncommitted changes)" if lineage.has_uncommitted_changes else ""
        parent = f"v{lineage.parent_version}" if lineage.parent_version else "none"
        console.print(
            f"created {v.created_at:%Y-%m-%d %H:%M}  flavor {v.flavor}  "
            f"git {lineage.git_revision}{dirty}  compared with {parent}"
        )
        console.print({
            "metrics": v.metrics, "params": v.params, "datasets": lineage.dataset_sha256,
            "libraries": lineage.library_versions,
        })  # fmt: skip


@app.command()
def alias(
    name: str,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS")],
    version: int,
) -> None:
    """Point ALIAS of model NAME at VERSION (running servers pick it up on their next poll)."""
    with _registry() as registry:
        registry.set_alias(name, alias_name, version)
    console.print(f"{name}: {alias_name} → v{version}")


@app.command("export")
def export(
    names: Annotated[
        list[str] | None, typer.Argument(help="models to export (default: all)")
    ] = None,
    out: Annotated[Path, typer.Option(help="bundle to write")] = Path("model.tar.gz"),
    alias_filter: Annotated[
        list[str] | None, typer.Option("--alias", help="only versions these aliases point at")
    ] = None,
) -> None:
    """Write a self-contained bundle (the model.tar.gz SageMaker unpacks into /opt/ml/model)."""
    with _registry() as registry:
        manifest = export_bundle(registry, out, names, aliases=alias_filter)
    count = sum(len(m.versions) for m in manifest.models)
    if count == 0:
        out.unlink()
        chosen = f" that --alias {', '.join(alias_filter)} points at" if alias_filter else ""
        _fail(f"no version{chosen} to export: see `practica models list`")
    console.print(f"Wrote {out} with {count} version(s) of {len(manifest.models)} model(s).")


@app.command("import")
def import_(
    bundle: Annotated[Path, typer.Argument(exists=True, help="bundle .tar.gz or unpacked folder")],
) -> None:
    """Load a bundle into the registry, keeping its version numbers and aliases."""
    with _registry() as registry:
        manifest = import_bundle(registry, bundle)
    count = sum(len(m.versions) for m in manifest.models)
    if count == 0:
        _fail(f"{bundle} holds no version: nothing was imported")
    console.print(f"Imported {count} version(s) of {len(manifest.models)} model(s).")


@deploy_app.command("sagemaker")
def deploy_sagemaker(
    bundle: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="the model.tar.gz written by `practica export`"
        ),
    ],
    endpoint: Annotated[
        str, typer.Option(help="endpoint name: created, or updated when it exists")
    ],
    image: Annotated[
        str, typer.Option(help="serving image URI in ECR (the Dockerfile's default target)")
    ],
    role: Annotated[
        str,
        typer.Option(help="execution role ARN SageMaker assumes (reads S3, pulls from ECR)"),
    ],
    bucket: Annotated[str, typer.Option(help="S3 bucket the bundle is uploaded to")],
    prefix: Annotated[
        str, typer.Option(help="S3 key prefix; objects go under PREFIX/ENDPOINT/")
    ] = "practica",
    instance_type: Annotated[str, typer.Option(help="instance type of the endpoint")] = (
        "ml.m5.large"
    ),
    count: Annotated[int, typer.Option(min=1, help="number of instances")] = 1,
    multi_model: Annotated[
        bool,
        typer.Option(
            "--multi-model",
            help="a multi-model endpoint: the bundle joins the tarballs under "
            "PREFIX/ENDPOINT/models/, invoked with its name as TargetModel",
        ),
    ] = False,
    target_model: Annotated[
        str | None,
        typer.Option(help="with --multi-model: the bundle's name there (default: its file name)"),
    ] = None,
    variant: Annotated[str, typer.Option(help="production variant name")] = "AllTraffic",
    region: Annotated[
        str | None,
        typer.Option(help="AWS region (default: AWS_REGION or the profile's)", show_default=False),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="wait until the endpoint is InService")
    ] = True,
    env: Annotated[
        list[str] | None,
        typer.Option(metavar="KEY=VALUE", help="container environment variable (repeatable)"),
    ] = None,
    default_model: Annotated[
        str | None,
        typer.Option(help="model /invocations serves without a target header"),
    ] = None,
) -> None:
    """Deploy BUNDLE to a SageMaker real-time endpoint.

    Uploads BUNDLE to S3, creates a SageMaker model and an endpoint config, then creates
    the endpoint, or updates it to the new config when it exists. AWS credentials come from
    the usual places (aws configure, AWS_PROFILE, AWS_* variables).
    """
    from clients import sagemaker_deploy

    try:
        target = sagemaker_deploy.EndpointTarget(
            endpoint_name=endpoint,
            image_uri=image,
            role_arn=role,
            bucket=bucket,
            prefix=prefix,
            instance_type=instance_type,
            instance_count=count,
            variant_name=variant,
            is_multi_model=multi_model,
            environment=sagemaker_deploy.parse_environment(env or []),
            default_model=default_model,
            target_model=target_model,
        )
        deployer = sagemaker_deploy.create_deployer(region)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("starting", total=bundle.stat().st_size)
            deployment = deployer.deploy(
                bundle,
                target,
                wait=wait,
                on_step=lambda message: progress.update(task, description=message),
                on_upload=lambda sent: progress.advance(task, sent),
            )
    except sagemaker_deploy.DeployError as error:
        errors.print(Text.assemble(("error: ", "bold red"), str(error)), soft_wrap=True)
        raise typer.Exit(1) from None
    action = "updated" if deployment.is_update else "created"
    lines = [
        f"Endpoint {deployment.endpoint_name} {action}: {deployment.status}",
        f"  model        {deployment.model_name}",
        f"  config       {deployment.endpoint_config_name}",
        f"  model data   {deployment.model_data_url}",
    ]
    invoke = f"aws sagemaker-runtime invoke-endpoint --endpoint-name {endpoint}"
    if deployment.target_model:
        lines.append(f"  bundle       {deployment.bundle_url}")
        invoke += f" --target-model {deployment.target_model}"
    invoke += " --content-type application/json --body fileb://request.json response.json"
    lines.append(f"Invoke: {invoke}")
    console.print("\n".join(lines), soft_wrap=True, markup=False)
