"""deploy/k8s checked against what it runs: settings, CLI commands, routes, Dockerfile stages.

No cluster runs in the tests; these catch the drift a renamed setting, option, route or
stage would otherwise cause silently (Kubernetes passes unknown variables along, and
pydantic-settings ignores them).
"""

from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from service.app import create_app
from service.cli import app as cli_app
from service.settings import ServiceSettings
from tests.dockerfile import entrypoints
from tests.fakes import EchoSpec

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATION: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
MANIFESTS: list[dict[str, Any]] = [
    document
    for resource in KUSTOMIZATION["resources"]
    for document in yaml.safe_load_all((K8S / resource).read_text())
    if document
]
# What botocore (under s3fs) reads from the environment: endpoint, credentials, region.
AWS_VARIABLES = {
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
}


def manifest(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        m
        for m in MANIFESTS
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def only_container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def environment(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each variable the container gets, with where it comes from."""
    variables: dict[str, dict[str, Any]] = {}
    for source in container.get("envFrom", []):
        ((kind, reference),) = source.items()
        assert kind in ("configMapRef", "secretRef"), kind
        resource = manifest("ConfigMap" if kind == "configMapRef" else "Secret", reference["name"])
        for key in resource.get("data", {}) | resource.get("stringData", {}):
            variables[key] = {kind: reference}
    for entry in container.get("env", []):
        variables[entry["name"]] = entry
    return variables


def cli_params(arguments: list[str]) -> tuple[str, dict[str, Any]]:
    """The `practica` command the arguments run, with its parsed options."""
    cli: Any = typer.main.get_command(cli_app)
    name, *rest = arguments
    assert name in cli.commands, f"no `practica {name}`"
    # Parses and validates every option (names, types, choices) without running anything.
    return name, cli.commands[name].make_context(name, list(rest)).params


def test_kustomization_lists_every_manifest_of_the_folder() -> None:
    listed = set(KUSTOMIZATION["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    kinds = {m["kind"] for m in MANIFESTS}
    expected = {"Deployment", "Service", "HorizontalPodAutoscaler", "Secret", "ConfigMap", "Job"}
    assert kinds == expected
    images = {image["name"] for image in KUSTOMIZATION["images"]}
    used = {only_container(manifest(kind))["image"] for kind in ("Deployment", "Job")}
    assert used == images, "every image the workloads use can be set in kustomization.yaml"


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_workloads_set_only_variables_the_code_reads(kind: str) -> None:
    assert ServiceSettings.model_config.get("env_prefix") == "PRACTICA_"
    fields = set(ServiceSettings.model_fields)  # the registry's settings included
    variables = environment(only_container(manifest(kind)))
    for variable in variables:
        if variable.startswith("PRACTICA_"):
            assert variable.removeprefix("PRACTICA_").lower() in fields, (
                f"{kind}: {variable} is not a setting (see service/settings.py)"
            )
        else:
            assert variable in AWS_VARIABLES, f"{kind}: nothing reads {variable}"
    # Both see one registry: the same database and artifact store.
    assert {"PRACTICA_DATABASE_URL", "PRACTICA_ARTIFACT_URI"} <= set(variables)


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_secret_and_config_references_resolve(kind: str) -> None:
    for name, entry in environment(only_container(manifest(kind))).items():
        reference = entry.get("valueFrom", {})
        if "secretKeyRef" in reference:
            key_ref = reference["secretKeyRef"]
            secret = manifest("Secret", key_ref["name"])
            assert key_ref["key"] in secret["stringData"], f"{kind}: {name}"
        if "configMapKeyRef" in reference:
            key_ref = reference["configMapKeyRef"]
            assert key_ref["key"] in manifest("ConfigMap", key_ref["name"])["data"]


def test_tokens_and_the_database_password_come_from_the_secret() -> None:
    secret = manifest("Secret")
    assert set(secret["stringData"]) >= {"PRACTICA_ADMIN_TOKEN", "PRACTICA_API_TOKEN"}
    for value in secret["stringData"].values():
        assert "replace-with" in value, "the Secret ships placeholders, never a credential"
    variables = environment(only_container(manifest("Deployment")))
    for name in ("PRACTICA_ADMIN_TOKEN", "PRACTICA_API_TOKEN", "PRACTICA_DATABASE_URL"):
        assert "secretKeyRef" in variables[name]["valueFrom"], name
    assert not set(manifest("ConfigMap")["data"]) & set(secret["stringData"])


def test_the_deployment_serves_on_the_port_its_probes_and_service_use(tmp_path: Path) -> None:
    container = only_container(manifest("Deployment"))
    # The serving image's entrypoint is SageMaker's: the command replaces it.
    assert entrypoints()["serving"] == ["practica", "container"]
    assert container["command"] == ["practica"]
    name, options = cli_params(container["args"])
    assert name == "serve"
    assert options["host"] == "0.0.0.0"  # reachable from the Service
    (port,) = container["ports"]
    assert port["containerPort"] == options["port"]

    document = create_app(ServiceSettings(home=tmp_path), catalog=[EchoSpec()]).openapi()
    paths = {path for path, operations in document["paths"].items() if "get" in operations}
    probes = {kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for probe in [*probes.values(), container["startupProbe"]["httpGet"]]:
        assert probe["path"] in paths, f"the app serves no GET {probe['path']}"
        assert probe["port"] in (port["name"], port["containerPort"])

    service = manifest("Service")
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] in (port["name"], port["containerPort"])
    deployment = manifest("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_the_autoscaler_scales_the_deployment_on_requested_cpu() -> None:
    autoscaler = manifest("HorizontalPodAutoscaler")
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    target = autoscaler["spec"]["scaleTargetRef"]
    deployment = manifest("Deployment")
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 1 <= autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
    (metric,) = autoscaler["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # Utilization is a share of the request: without one the autoscaler cannot act.
    resources = only_container(deployment)["resources"]
    assert resources["requests"]["cpu"]
    assert set(resources["limits"]) == {"cpu", "memory"}


def test_the_job_trains_every_model_with_the_trainer_entrypoint() -> None:
    job = manifest("Job")
    assert job["apiVersion"] == "batch/v1"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    container = only_container(job)
    assert "command" not in container, "the trainer target's ENTRYPOINT runs the args"
    assert entrypoints()["trainer"] == ["practica"]
    name, options = cli_params(container["args"])
    assert name == "train"
    assert options["all_models"] is True
    assert container["resources"]["requests"]["memory"]
