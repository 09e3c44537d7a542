"""clients.sagemaker_deploy and `practica deploy sagemaker` against stubbed boto3 clients.

Real boto3 clients, with botocore's Stubber answering every call: each test queues the
exact requests it expects, in order, and fails on any other (no network, fake credentials).
"""

import hashlib
import io
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner

from clients import sagemaker_deploy
from clients.sagemaker_deploy import (
    DeployError,
    EndpointTarget,
    SageMakerDeployer,
    parse_environment,
    upload_config,
)
from service.cli import app

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/practica:0.1.0"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
STAMP = "20260304050607"
ENDPOINT_NOT_FOUND = 'Could not find endpoint "titanic".'


@pytest.fixture(autouse=True)
def _no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The machine's own AWS settings must not reach the clients under test."""
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _client(service: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def sagemaker() -> Iterator[Stubber]:
    with Stubber(_client("sagemaker")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def s3() -> Iterator[Stubber]:
    with Stubber(_client("s3")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def uploaded(s3: Stubber) -> dict[str, bytes]:
    """The bytes each upload call sent, by S3 key (parts concatenated)."""
    sent: dict[str, bytes] = {}

    def capture(params: dict[str, Any], **_: Any) -> None:
        body = params["Body"]
        sent[params["Key"]] = sent.get(params["Key"], b"") + body.read()
        body.seek(0)

    events = s3.client.meta.events
    events.register("before-parameter-build.s3.PutObject", capture)
    events.register("before-parameter-build.s3.UploadPart", capture)
    return sent


def _deployer(sagemaker: Stubber, s3: Stubber, **config: Any) -> SageMakerDeployer:
    return SageMakerDeployer(
        sagemaker.client,
        s3.client,
        transfer_config=TransferConfig(use_threads=False, **config),
        clock=lambda: NOW,
        wait_delay_s=0,
        wait_max_attempts=3,
    )


@pytest.fixture
def deployer(sagemaker: Stubber, s3: Stubber) -> SageMakerDeployer:
    return _deployer(sagemaker, s3)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A small gzip tarball shaped like `practica export`'s (manifest first)."""
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        manifest = b'{"format": 1, "models": []}'
        info = tarfile.TarInfo("practica-bundle.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _target(**changes: Any) -> EndpointTarget:
    target = EndpointTarget(
        endpoint_name="titanic", image_uri=IMAGE, role_arn=ROLE, bucket="models-bucket"
    )
    return replace(target, **changes)


def _endpoint(status: str, config: str, **extra: Any) -> dict[str, Any]:
    return {
        "EndpointName": "titanic",
        "EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/titanic",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
        **extra,
    }


def _expect_no_endpoint(sagemaker: Stubber) -> None:
    sagemaker.add_client_error(
        "describe_endpoint",
        service_error_code="ValidationException",
        service_message=ENDPOINT_NOT_FOUND,
        expected_params={"EndpointName": "titanic"},
    )


def _expect_put(s3: Stubber, key: str, sha256: str) -> None:
    s3.add_response(
        "put_object",
        {"ETag": '"etag"'},
        {
            "Bucket": "models-bucket",
            "Key": key,
            "Body": ANY,
            "ContentType": "application/gzip",
            "Metadata": {"sha256": sha256},
            "ChecksumAlgorithm": ANY,  # s3transfer's own integrity check
        },
    )


def _expect_model_and_config(
    sagemaker: Stubber, name: str, container: dict[str, Any], **variant: Any
) -> None:
    sagemaker.add_response(
        "create_model",
        {"ModelArn": f"arn:aws:sagemaker:eu-west-1:123456789012:model/{name}"},
        {"ModelName": name, "ExecutionRoleArn": ROLE, "PrimaryContainer": container},
    )
    sagemaker.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/{name}"},
        {
            "EndpointConfigName": name,
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 1.0,
                    **variant,
                }
            ],
        },
    )


# ----------------------------------------------------------------- single-model


def test_deploy_creates_a_single_model_endpoint_and_waits(
    deployer: SageMakerDeployer,
    sagemaker: Stubber,
    s3: Stubber,
    uploaded: dict[str, bytes],
    bundle: Path,
) -> None:
    sha256 = _sha256(bundle)
    name = f"titanic-{sha256[:8]}-{STAMP}"
    key = f"practica/titanic/{sha256[:8]}-{STAMP}/model.tar.gz"
    _expect_no_endpoint(sagemaker)
    _expect_put(s3, key, sha256)
    container = {
        "Image": IMAGE,
        "ModelDataUrl": f"s3://models-bucket/{key}",
        "Environment": {"PRACTICA_DEFAULT_MODEL": "titanic-survival", "PRACTICA_LOG_JSON": "1"},
    }
    _expect_model_and_config(sagemaker, name, container)
    sagemaker.add_response(
        "create_endpoint",
        {"EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/titanic"},
        {"EndpointName": "titanic", "EndpointConfigName": name},
    )
    sagemaker.add_response(
        "describe_endpoint", _endpoint("Creating", name), {"EndpointName": "titanic"}
    )
    sagemaker.add_response(
        "describe_endpoint", _endpoint("InService", name), {"EndpointName": "titanic"}
    )
    sagemaker.add_response(
        "describe_endpoint", _endpoint("InService", name), {"EndpointName": "titanic"}
    )
    steps: list[str] = []

    deployment = deployer.deploy(
        bundle,
        _target(default_model="titanic-survival", environment={"PRACTICA_LOG_JSON": "1"}),
        on_step=steps.append,
    )

    assert uploaded == {key: bundle.read_bytes()}
    assert deployment.endpoint_name == "titanic"
    assert deployment.model_name == deployment.endpoint_config_name == name
    assert deployment.model_data_url == deployment.bundle_url == f"s3://models-bucket/{key}"
    assert (deployment.is_update, deployment.status, deployment.target_model) == (
        False,
        "InService",
        None,
    )
    assert steps[0] == "looking up endpoint titanic"
    assert steps[-1].startswith("waiting for titanic to be InService")


def test_deploy_updates_an_existing_endpoint_to_a_new_config(
    deployer: SageMakerDeployer, sagemaker: Stubber, s3: Stubber, bundle: Path
) -> None:
    sha256 = _sha256(bundle)
    name = f"titanic-{sha256[:8]}-{STAMP}"
    key = f"models/titanic/{sha256[:8]}-{STAMP}/model.tar.gz"
    sagemaker.add_response(
        "describe_endpoint", _endpoint("InService", "titanic-old"), {"EndpointName": "titanic"}
    )
    _expect_put(s3, key, sha256)
    container = {"Image": IMAGE, "ModelDataUrl": f"s3://models-bucket/{key}"}
    _expect_model_and_config(
        sagemaker, name, container, InstanceType="ml.c5.xlarge", InitialInstanceCount=2
    )
    sagemaker.add_response(
        "update_endpoint",
        {"EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/titanic"},
        {"EndpointName": "titanic", "EndpointConfigName": name},
    )

    deployment = deployer.deploy(
        bundle,
        _target(prefix="/models/", instance_type="ml.c5.xlarge", instance_count=2),
        wait=False,
    )

    assert (deployment.is_update, deployment.status) == (True, "Updating")
    assert deployment.endpoint_config_name == name


def test_deploy_names_fit_sagemaker_for_the_longest_endpoint_name(
    deployer: SageMakerDeployer, sagemaker: Stubber, s3: Stubber, bundle: Path
) -> None:
    endpoint = "e" * 62 + "1"
    sagemaker.add_client_error(
        "describe_endpoint", "ValidationException", "Could not find endpoint"
    )
    s3.add_response("put_object", {})
    seen: list[str] = []
    sagemaker.client.meta.events.register(
        "before-parameter-build.sagemaker.CreateModel",
        lambda params, **_: seen.append(params["ModelName"]),
    )
    sagemaker.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:eu-west-1:1:model/m"})
    sagemaker.add_response(
        "create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:1:ec/m"}
    )
    sagemaker.add_response("create_endpoint", {"EndpointArn": "arn:aws:sagemaker:eu-west-1:1:e/m"})

    deployment = deployer.deploy(bundle, _target(endpoint_name=endpoint), wait=False)

    assert seen == [deployment.model_name]
    assert len(deployment.model_name) == 63
    assert deployment.model_name == f"{'e' * 39}-{_sha256(bundle)[:8]}-{STAMP}"


def test_deploy_uploads_a_large_bundle_in_parts(
    sagemaker: Stubber, s3: Stubber, uploaded: dict[str, bytes], tmp_path: Path
) -> None:
    part = 5 * 1024**2  # S3's smallest part
    bundle = tmp_path / "big.tar.gz"
    bundle.write_bytes(b"\x1f\x8b" + b"\x00" * (part + 1000))
    deployer = _deployer(sagemaker, s3, multipart_threshold=part, multipart_chunksize=part)
    sha256 = _sha256(bundle)
    key = f"practica/titanic/{sha256[:8]}-{STAMP}/model.tar.gz"
    where = {"Bucket": "models-bucket", "Key": key}
    sagemaker.add_client_error("describe_endpoint", "ValidationException", ENDPOINT_NOT_FOUND)
    s3.add_response(
        "create_multipart_upload",
        {"UploadId": "upload-1"},
        {
            **where,
            "ContentType": "application/gzip",
            "Metadata": {"sha256": sha256},
            "ChecksumAlgorithm": ANY,
        },
    )
    for number in (1, 2):
        s3.add_response(
            "upload_part",
            {"ETag": f'"part-{number}"'},
            {
                **where,
                "UploadId": "upload-1",
                "PartNumber": number,
                "Body": ANY,
                "ChecksumAlgorithm": ANY,
            },
        )
    s3.add_response(
        "complete_multipart_upload",
        {},
        {
            **where,
            "UploadId": "upload-1",
            "MultipartUpload": {
                "Parts": [
                    {"ETag": '"part-1"', "PartNumber": 1},
                    {"ETag": '"part-2"', "PartNumber": 2},
                ]
            },
        },
    )
    sagemaker.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:eu-west-1:1:model/m"})
    sagemaker.add_response(
        "create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:1:ec/m"}
    )
    sagemaker.add_response("create_endpoint", {"EndpointArn": "arn:aws:sagemaker:eu-west-1:1:e/m"})

    deployer.deploy(bundle, _target(), wait=False)

    assert uploaded == {key: bundle.read_bytes()}


def test_upload_config_sends_bundles_over_64_mib_in_parallel_parts() -> None:
    config = upload_config()
    assert config.multipart_threshold == config.multipart_chunksize == 64 * 1024**2
    assert config.use_threads
    assert config.max_concurrency > 1
    assert not upload_config(use_threads=False).use_threads


# ----------------------------------------------------------------- multi-model


def test_deploy_creates_a_multi_model_endpoint_over_a_prefix(
    deployer: SageMakerDeployer,
    sagemaker: Stubber,
    s3: Stubber,
    uploaded: dict[str, bytes],
    bundle: Path,
) -> None:
    sha256 = _sha256(bundle)
    name = f"titanic-{sha256[:8]}-{STAMP}"
    key = "practica/titanic/models/titanic-v1.tar.gz"
    _expect_no_endpoint(sagemaker)
    s3.add_client_error(
        "head_object",
        "404",
        "Not Found",
        404,
        expected_params={"Bucket": "models-bucket", "Key": key},
    )
    _expect_put(s3, key, sha256)
    container = {
        "Image": IMAGE,
        "Mode": "MultiModel",
        "ModelDataUrl": "s3://models-bucket/practica/titanic/models/",
    }
    _expect_model_and_config(sagemaker, name, container)
    sagemaker.add_response(
        "create_endpoint",
        {"EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/titanic"},
        {"EndpointName": "titanic", "EndpointConfigName": name},
    )

    deployment = deployer.deploy(
        bundle, _target(is_multi_model=True, target_model="titanic-v1.tar.gz"), wait=False
    )

    assert uploaded == {key: bundle.read_bytes()}
    assert deployment.model_data_url == "s3://models-bucket/practica/titanic/models/"
    assert deployment.bundle_url == f"s3://models-bucket/{key}"
    assert deployment.target_model == "titanic-v1.tar.gz"


def _expect_multi_model_endpoint(sagemaker: Stubber, mode: str = "MultiModel") -> None:
    sagemaker.add_response(
        "describe_endpoint", _endpoint("InService", "titanic-config"), {"EndpointName": "titanic"}
    )
    sagemaker.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": "titanic-config",
            "EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/titanic-config",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "titanic-model"}],
            "CreationTime": NOW,
        },
        {"EndpointConfigName": "titanic-config"},
    )
    sagemaker.add_response(
        "describe_model",
        {
            "ModelName": "titanic-model",
            "ModelArn": "arn:aws:sagemaker:eu-west-1:123456789012:model/titanic-model",
            "CreationTime": NOW,
            "PrimaryContainer": {
                "Image": IMAGE,
                "Mode": mode,
                "ModelDataUrl": "s3://mme-bucket/serving/titanic/models/",
            },
        },
        {"ModelName": "titanic-model"},
    )


def test_add_model_uploads_under_the_endpoints_prefix(
    deployer: SageMakerDeployer,
    sagemaker: Stubber,
    s3: Stubber,
    uploaded: dict[str, bytes],
    bundle: Path,
) -> None:
    key = "serving/titanic/models/titanic-v2.tar.gz"
    _expect_multi_model_endpoint(sagemaker)
    s3.add_client_error(
        "head_object", "404", "Not Found", 404, expected_params={"Bucket": "mme-bucket", "Key": key}
    )
    s3.add_response(
        "put_object",
        {"ETag": '"etag"'},
        {
            "Bucket": "mme-bucket",
            "Key": key,
            "Body": ANY,
            "ContentType": "application/gzip",
            "Metadata": {"sha256": _sha256(bundle)},
            "ChecksumAlgorithm": ANY,
        },
    )

    added = deployer.add_model(bundle, "titanic", target_model="titanic-v2.tar.gz")

    assert uploaded == {key: bundle.read_bytes()}
    assert (added.target_model, added.url, added.is_new) == (
        "titanic-v2.tar.gz",
        f"s3://mme-bucket/{key}",
        True,
    )


def test_add_model_leaves_the_same_bundle_in_place(
    deployer: SageMakerDeployer, sagemaker: Stubber, s3: Stubber, bundle: Path
) -> None:
    _expect_multi_model_endpoint(sagemaker)
    s3.add_response("head_object", {"Metadata": {"sha256": _sha256(bundle)}})

    added = deployer.add_model(bundle, "titanic")

    assert (added.target_model, added.is_new) == ("model.tar.gz", False)


def test_add_model_refuses_to_replace_another_bundle(
    deployer: SageMakerDeployer, sagemaker: Stubber, s3: Stubber, bundle: Path
) -> None:
    _expect_multi_model_endpoint(sagemaker)
    s3.add_response("head_object", {"Metadata": {"sha256": "0" * 64}})

    with pytest.raises(DeployError, match=r"already holds another bundle.*--target-model"):
        deployer.add_model(bundle, "titanic")


def test_add_model_says_which_permissions_a_forbidden_check_needs(
    deployer: SageMakerDeployer, sagemaker: Stubber, s3: Stubber, bundle: Path
) -> None:
    _expect_multi_model_endpoint(sagemaker)
    s3.add_client_error("head_object", "403", "Forbidden", 403)

    with pytest.raises(DeployError, match=r"403: Forbidden\. .*s3:ListBucket on the bucket"):
        deployer.add_model(bundle, "titanic")


def test_add_model_refuses_a_single_model_endpoint(
    deployer: SageMakerDeployer, sagemaker: Stubber, bundle: Path
) -> None:
    _expect_multi_model_endpoint(sagemaker, mode="SingleModel")

    with pytest.raises(DeployError, match="not a multi-model endpoint"):
        deployer.add_model(bundle, "titanic")


# ----------------------------------------------------------------- failures


def test_deploy_turns_an_aws_error_into_a_deploy_error_saying_what_to_do(
    deployer: SageMakerDeployer, sagemaker: Stubber, s3: Stubber, bundle: Path
) -> None:
    _expect_no_endpoint(sagemaker)
    s3.add_response("put_object", {})
    sagemaker.add_client_error(
        "create_model",
        service_error_code="ValidationException",
        service_message=f"Could not assume role {ROLE}.",
    )

    with pytest.raises(DeployError) as raised:
        deployer.deploy(bundle, _target())

    error = raised.value
    assert (error.operation, error.code) == ("CreateModel", "ValidationException")
    assert str(error).startswith(
        f"cannot create the SageMaker model: ValidationException: Could not assume role {ROLE}"
    )
    assert "Check --role" in str(error)
    assert "trust sagemaker.amazonaws.com" in str(error)


def test_deploy_says_to_create_a_missing_bucket(
    deployer: SageMakerDeployer, sagemaker: Stubber, s3: Stubber, bundle: Path
) -> None:
    _expect_no_endpoint(sagemaker)
    s3.add_client_error("put_object", "NoSuchBucket", "The specified bucket does not exist", 404)

    with pytest.raises(DeployError, match=r"NoSuchBucket.*Create the bucket.*--bucket"):
        deployer.deploy(bundle, _target())


def test_deploy_reports_why_the_endpoint_failed(
    deployer: SageMakerDeployer, sagemaker: Stubber, s3: Stubber, bundle: Path
) -> None:
    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    _expect_no_endpoint(sagemaker)
    s3.add_response("put_object", {})
    sagemaker.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:eu-west-1:1:model/m"})
    sagemaker.add_response(
        "create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:1:ec/m"}
    )
    sagemaker.add_response("create_endpoint", {"EndpointArn": "arn:aws:sagemaker:eu-west-1:1:e/m"})
    sagemaker.add_response(
        "describe_endpoint",
        _endpoint("Failed", "any", FailureReason=reason),
        {"EndpointName": "titanic"},
    )

    with pytest.raises(DeployError) as raised:
        deployer.deploy(bundle, _target())

    assert str(raised.value) == (
        f"endpoint titanic failed: {reason}. The container's log is in CloudWatch, "
        "group /aws/sagemaker/Endpoints/titanic"
    )


def test_deploy_reports_an_update_that_sagemaker_rolled_back(
    deployer: SageMakerDeployer, sagemaker: Stubber, s3: Stubber, bundle: Path
) -> None:
    sagemaker.add_response("describe_endpoint", _endpoint("InService", "titanic-old"))
    s3.add_response("put_object", {})
    sagemaker.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:eu-west-1:1:model/m"})
    sagemaker.add_response(
        "create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:1:ec/m"}
    )
    sagemaker.add_response("update_endpoint", {"EndpointArn": "arn:aws:sagemaker:eu-west-1:1:e/m"})
    sagemaker.add_response("describe_endpoint", _endpoint("InService", "titanic-old"))
    rolled_back = _endpoint("InService", "titanic-old", FailureReason="ping health check failed")
    sagemaker.add_response("describe_endpoint", rolled_back, {"EndpointName": "titanic"})

    with pytest.raises(DeployError, match=r"rolled it back to config titanic-old: ping health"):
        deployer.deploy(bundle, _target())


def test_deploy_refuses_an_endpoint_that_is_still_changing(
    deployer: SageMakerDeployer, sagemaker: Stubber, bundle: Path
) -> None:
    sagemaker.add_response("describe_endpoint", _endpoint("Updating", "titanic-old"))

    with pytest.raises(DeployError, match=r"endpoint titanic is Updating: wait until"):
        deployer.deploy(bundle, _target())


def test_deploy_refuses_a_failed_endpoint_and_says_to_delete_it(
    deployer: SageMakerDeployer, sagemaker: Stubber, bundle: Path
) -> None:
    sagemaker.add_response(
        "describe_endpoint", _endpoint("Failed", "titanic-old", FailureReason="image not found")
    )

    with pytest.raises(DeployError, match=r"failed earlier \(image not found\).*delete-endpoint"):
        deployer.deploy(bundle, _target())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"role_arn": "SageMakerExecution"}, "must be an IAM role ARN"),
        ({"endpoint_name": "titanic_survival"}, "endpoint name 'titanic_survival' is not valid"),
        ({"instance_type": "m5.large"}, "instance types start with 'ml.'"),
        ({"instance_count": 0}, "at least 1"),
        ({"target_model": "v2.tar.gz"}, "multi-model endpoints only"),
        ({"is_multi_model": True, "target_model": "../v2.tar.gz"}, "target model name"),
        (
            {"default_model": "iris-pca", "environment": {"PRACTICA_DEFAULT_MODEL": "titanic"}},
            "given twice",
        ),
    ],
)
def test_endpoint_target_refuses_what_sagemaker_would(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(DeployError, match=message) as raised:
        _target(**changes)
    assert raised.value.operation is None


def test_deploy_checks_the_bundles_name_as_a_target_model(
    deployer: SageMakerDeployer, bundle: Path
) -> None:
    misnamed = bundle.rename(bundle.with_name("titanic.tgz"))

    with pytest.raises(DeployError, match=r"target model name 'titanic\.tgz' is not valid"):
        deployer.deploy(misnamed, _target(is_multi_model=True))


def test_deploy_refuses_a_file_that_is_not_a_bundle(
    deployer: SageMakerDeployer, tmp_path: Path
) -> None:
    not_a_bundle = tmp_path / "model.tar.gz"
    not_a_bundle.write_text("{}")

    with pytest.raises(DeployError, match="not a gzip tarball"):
        deployer.deploy(not_a_bundle, _target())


def test_parse_environment_reads_key_value_pairs() -> None:
    assert parse_environment(["A=1", "URL=http://x/?a=b", "EMPTY="]) == {
        "A": "1",
        "URL": "http://x/?a=b",
        "EMPTY": "",
    }
    with pytest.raises(DeployError, match="--env expects KEY=VALUE"):
        parse_environment(["NOVALUE"])
    with pytest.raises(DeployError, match="--env expects KEY=VALUE"):
        parse_environment(["1BAD=x"])


def test_create_deployer_without_boto3_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` fail

    with pytest.raises(DeployError, match=r"pip install 'practica\[aws\]'"):
        sagemaker_deploy.create_deployer(REGION)


def test_module_imports_without_boto3() -> None:
    script = (
        "import sys; sys.modules['boto3'] = sys.modules['botocore'] = None; "
        "import clients.sagemaker_deploy as d; "
        "print(d.parse_environment(['A=1']), 'boto3' in sys.modules and sys.modules['boto3'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'A': '1'} None"


def test_create_deployer_without_a_region_says_how_to_set_one() -> None:
    with pytest.raises(DeployError, match="pass --region, or set AWS_REGION"):
        sagemaker_deploy.create_deployer()


# ----------------------------------------------------------------- the CLI command


def _cli_arguments(bundle: Path, *extra: str) -> list[str]:
    return [
        "deploy", "sagemaker", str(bundle), "--endpoint", "titanic", "--image", IMAGE,
        "--role", ROLE, "--bucket", "models-bucket", *extra,
    ]  # fmt: skip


@pytest.fixture
def regions(monkeypatch: pytest.MonkeyPatch, deployer: SageMakerDeployer) -> list[str | None]:
    """The CLI gets the stubbed deployer; the regions it asked for are recorded."""
    asked: list[str | None] = []

    def create_deployer(region: str | None = None) -> SageMakerDeployer:
        asked.append(region)
        return deployer

    monkeypatch.setattr(sagemaker_deploy, "create_deployer", create_deployer)
    return asked


def test_deploy_sagemaker_command_maps_its_options(
    regions: list[str | None], sagemaker: Stubber, s3: Stubber, bundle: Path
) -> None:
    sha256 = _sha256(bundle)
    name = f"titanic-{sha256[:8]}-{STAMP}"
    key = "serving/titanic/models/model.tar.gz"
    _expect_no_endpoint(sagemaker)
    s3.add_client_error("head_object", "404", "Not Found", 404)
    _expect_put(s3, key, sha256)
    container = {
        "Image": IMAGE,
        "Mode": "MultiModel",
        "ModelDataUrl": "s3://models-bucket/serving/titanic/models/",
        "Environment": {
            "PRACTICA_MAX_BATCH_SIZE": "64",
            "NOTE": "a=b",
            "PRACTICA_DEFAULT_MODEL": "titanic-survival",
        },
    }
    _expect_model_and_config(
        sagemaker,
        name,
        container,
        VariantName="blue",
        InstanceType="ml.c5.xlarge",
        InitialInstanceCount=3,
    )
    sagemaker.add_response(
        "create_endpoint", {"EndpointArn": "arn:aws:sagemaker:eu-west-1:1:e/titanic"}
    )

    options = [
        "--prefix", "serving", "--instance-type", "ml.c5.xlarge", "--count", "3",
        "--variant", "blue", "--multi-model", "--region", "us-east-2", "--no-wait",
        "--env", "PRACTICA_MAX_BATCH_SIZE=64", "--env", "NOTE=a=b",
        "--default-model", "titanic-survival",
    ]  # fmt: skip

    result = CliRunner().invoke(app, _cli_arguments(bundle, *options))

    assert result.exit_code == 0, result.output
    assert regions == ["us-east-2"]
    assert "Endpoint titanic created: Creating" in result.output
    assert "--endpoint-name titanic --target-model model.tar.gz" in result.output


def test_deploy_sagemaker_command_prints_one_error_line(
    regions: list[str | None], sagemaker: Stubber, s3: Stubber, bundle: Path
) -> None:
    _expect_no_endpoint(sagemaker)
    s3.add_response("put_object", {})
    sagemaker.add_client_error(
        "create_model", "ResourceLimitExceeded", "The account-level service limit was exceeded."
    )

    result = CliRunner().invoke(app, _cli_arguments(bundle))

    assert result.exit_code == 1
    assert regions == [None]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot create the SageMaker model: ResourceLimitExceeded")
    assert "ml.m5.large" in lines[0]
    assert "Traceback" not in result.output


def test_deploy_sagemaker_command_refuses_a_malformed_env(
    regions: list[str | None], bundle: Path
) -> None:
    result = CliRunner().invoke(app, _cli_arguments(bundle, "--env", "NO_EQUALS_SIGN"))

    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == "error: --env expects KEY=VALUE with KEY a variable name, got 'NO_EQUALS_SIGN'"
    )
    assert regions == []


def test_deploy_sagemaker_command_has_help() -> None:
    result = CliRunner().invoke(app, ["deploy", "sagemaker", "--help"])

    assert result.exit_code == 0
    for option in ("--endpoint", "--image", "--role", "--bucket", "--multi-model", "--env"):
        assert option in result.output
