"""docker-compose.yml checked against what it runs: settings, CLI options, Dockerfile stages.

No Docker engine runs in the tests; these catch the drift a renamed setting, option or
stage would otherwise cause silently (compose passes unknown variables along, and
pydantic-settings ignores them).
"""

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml

from service.cli import app
from service.settings import ServiceSettings
from tests.dockerfile import entrypoints

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PRACTICA_SERVICES = ("api", "trainer")  # the services that run the `practica` command
ONE_SHOT = ("create-bucket", "trainer")  # run to completion; the others stay up
# What botocore (under s3fs) reads from the environment: endpoint, credentials, region.
AWS_VARIABLES = {
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
}


def _interpolate(argument: str) -> str:
    """Compose's `${NAME:-default}` with NAME unset; a bare `${NAME}` would be empty."""
    assert not re.search(r"\$\{\w+\}", argument), f"{argument!r} has no default"
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", argument)


def _environment(service: str) -> dict[str, Any]:
    environment: dict[str, Any] = SERVICES[service].get("environment", {})
    assert isinstance(environment, dict), f"{service}: write `environment` as a mapping"
    return environment


def test_images_are_built_from_stages_of_the_dockerfile() -> None:
    stages = entrypoints()
    built = {name: service["build"] for name, service in SERVICES.items() if "build" in service}
    assert {"api", "trainer"} <= set(built)
    assert built["api"]["target"] == "serving"
    assert built["trainer"]["target"] == "trainer"
    for name, build in built.items():
        if "target" in build:
            assert build["target"] in stages, f"{name}: no stage {build['target']!r}"
        for context in build.get("additional_contexts", {}).values():
            if context.startswith("service:"):
                assert context.removeprefix("service:") in SERVICES, f"{name}: {context}"


@pytest.mark.parametrize("service", PRACTICA_SERVICES)
def test_practica_services_set_only_variables_the_code_reads(service: str) -> None:
    prefix = ServiceSettings.model_config.get("env_prefix")
    assert prefix == "PRACTICA_"
    fields = set(ServiceSettings.model_fields)  # the registry's settings included
    for variable in _environment(service):
        if variable.startswith(prefix):
            assert variable.removeprefix(prefix).lower() in fields, (
                f"{service}: {variable} is not a setting (see service/settings.py)"
            )
        else:
            assert variable in AWS_VARIABLES, f"{service}: nothing reads {variable}"


def test_replicas_and_trainer_share_one_registry() -> None:
    api, trainer = _environment("api"), _environment("trainer")
    for variable in ("PRACTICA_DATABASE_URL", "PRACTICA_ARTIFACT_URI", "AWS_ENDPOINT_URL_S3"):
        assert api[variable] == trainer[variable], variable
    # Both point at services of this file: the database, and the bucket the one-shot makes.
    assert urlsplit(api["PRACTICA_DATABASE_URL"]).hostname in SERVICES
    assert urlsplit(api["AWS_ENDPOINT_URL_S3"]).hostname in SERVICES
    artifacts = urlsplit(api["PRACTICA_ARTIFACT_URI"])
    assert artifacts.scheme == "s3"
    assert SERVICES["create-bucket"]["command"][-1].endswith(f"/{artifacts.netloc}")


@pytest.mark.parametrize("service", PRACTICA_SERVICES)
def test_commands_are_valid_practica_commands(service: str) -> None:
    definition = SERVICES[service]
    target = definition["build"]["target"]
    entrypoint = definition.get("entrypoint", entrypoints()[target])
    assert entrypoint == ["practica"]
    name, *arguments = (_interpolate(argument) for argument in definition["command"])
    cli: Any = typer.main.get_command(app)
    assert name in cli.commands, f"{service}: no `practica {name}`"
    # Parses and validates every option (names, types, choices) without running anything.
    cli.commands[name].make_context(name, list(arguments))


def test_api_replicas_listen_where_the_load_balancer_and_healthcheck_look() -> None:
    api = SERVICES["api"]
    assert api["deploy"]["replicas"] > 1
    assert "ports" not in api, "replicas cannot share a published port: publish the lb's"
    cli: Any = typer.main.get_command(app)
    options = cli.commands["serve"].make_context("serve", list(api["command"][1:])).params
    assert options["host"] == "0.0.0.0"  # reachable from the other containers
    port = options["port"]
    assert f"http://127.0.0.1:{port}/readyz" in " ".join(api["healthcheck"]["test"])

    (mount,) = SERVICES["lb"]["volumes"]
    source, target, *_ = mount.split(":")
    assert target == "/etc/nginx/nginx.conf"
    nginx = (ROOT / source).read_text()
    assert re.search(rf"server\s+api:{port}\b", nginx)
    assert "/readyz" in " ".join(SERVICES["lb"]["healthcheck"]["test"])


def test_dependencies_wait_for_health_or_completion() -> None:
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert rule == {"condition": expected}, f"{name} → {dependency}"
            if expected == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], dependency
    assert "trainer" not in SERVICES["api"].get("depends_on", {}), (
        "replicas start without waiting for a full training run; the alias poll loads models"
    )


def test_locust_runs_the_repository_locustfile() -> None:
    locust = SERVICES["locust"]
    arguments = locust["command"]
    locustfile = arguments[arguments.index("-f") + 1]
    mounts = [volume.split(":") for volume in locust["volumes"]]
    sources = [
        ROOT / source / Path(locustfile).relative_to(target)
        for source, target, *_ in mounts
        if Path(locustfile).is_relative_to(target)
    ]
    assert sources, f"{locustfile} is in no mounted folder"
    assert sources[0].is_file(), f"{sources[0]} does not exist"
    assert arguments[arguments.index("--host") + 1] == "http://lb"
