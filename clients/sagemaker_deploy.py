"""Deploy a `practica export` bundle to a SageMaker real-time endpoint with boto3.

One deploy, in order:

1. The endpoint is looked up: it is created if it does not exist, updated if it does
   (refused while SageMaker is still changing it, or after it failed).
2. The bundle is uploaded to S3, in parts when it is large. A single-model endpoint gets a
   new object per deploy, `s3://BUCKET/PREFIX/ENDPOINT/<deploy>/model.tar.gz`; a multi-model
   endpoint reads every tarball under `s3://BUCKET/PREFIX/ENDPOINT/models/`, and the
   bundle becomes one of them (its name there is the `TargetModel` of invocations).
3. A SageMaker model and an endpoint config are created, both named `ENDPOINT-<deploy>`,
   where `<deploy>` is the bundle's sha256 prefix and a UTC timestamp: every deploy gets new
   names, so an update never changes what the running endpoint uses.
4. The endpoint is created from the config, or switched to it; optionally the deploy waits
   until SageMaker reports it InService.

boto3 is the `aws` extra: it is imported only when a client is built, so this module (and
`clients`) imports without it. Every AWS failure becomes a `DeployError` saying what
failed and what to do.
"""

import contextlib
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

logger = logging.getLogger(__name__)

DEFAULT_INSTANCE_TYPE = "ml.m5.large"
DEFAULT_VARIANT = "AllTraffic"
DEFAULT_PREFIX = "practica"
MODEL_ENVIRONMENT_DEFAULT = "PRACTICA_DEFAULT_MODEL"
SHA256_METADATA = "sha256"
"""The S3 object metadata key recording the uploaded bundle's sha256."""

# Parts of 64 MiB keep an 8 GiB bundle (the most the registry unpacks) at 128 parts, far
# under S3's 10,000, while a failed part costs little to resend.
MULTIPART_THRESHOLD_BYTES = 64 * 1024**2
MULTIPART_CHUNK_BYTES = 64 * 1024**2
UPLOAD_CONCURRENCY = 8

# SageMaker's waiter defaults: a new endpoint usually takes 5-10 minutes.
WAIT_DELAY_S = 30
WAIT_MAX_ATTEMPTS = 120

_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # endpoints, configs, models, variants
_NAME_MAX = 63
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_TARGET_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.tar\.gz$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")
_GZIP_MAGIC = b"\x1f\x8b"
_BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})


class DeployError(Exception):
    """A deploy step failed; the message says which and what to do.

    `operation` is the AWS call that failed (None for checks made before calling AWS),
    `code` the AWS error code when AWS answered one.
    """

    def __init__(
        self, message: str, *, operation: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.code = code


class SageMakerClient(Protocol):
    """The calls made on boto3's `sagemaker` client (a Stubber-wrapped one in tests)."""

    def describe_endpoint(self, **kwargs: Any) -> dict[str, Any]: ...
    def describe_endpoint_config(self, **kwargs: Any) -> dict[str, Any]: ...
    def describe_model(self, **kwargs: Any) -> dict[str, Any]: ...
    def create_model(self, **kwargs: Any) -> dict[str, Any]: ...
    def create_endpoint_config(self, **kwargs: Any) -> dict[str, Any]: ...
    def create_endpoint(self, **kwargs: Any) -> dict[str, Any]: ...
    def update_endpoint(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_waiter(self, waiter_name: str) -> Any: ...


class S3Client(Protocol):
    """The calls made on boto3's `s3` client; `upload_fileobj` is boto3's managed transfer."""

    def head_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def upload_fileobj(
        self,
        Fileobj: BinaryIO,
        Bucket: str,
        Key: str,
        ExtraArgs: Mapping[str, Any] | None = None,
        Callback: Callable[[int], None] | None = None,
        Config: Any = None,
    ) -> None: ...


@dataclass(frozen=True)
class EndpointTarget:
    """Where and how a bundle is served: the arguments of `practica deploy sagemaker`."""

    endpoint_name: str
    image_uri: str
    """The serving image in ECR (the Dockerfile's default target), in the endpoint's region."""
    role_arn: str
    """The execution role SageMaker assumes to read the bundle from S3 and pull the image."""
    bucket: str
    prefix: str = DEFAULT_PREFIX
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = 1
    variant_name: str = DEFAULT_VARIANT
    is_multi_model: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)
    default_model: str | None = None
    """The model `/invocations` runs without a target header (PRACTICA_DEFAULT_MODEL)."""
    target_model: str | None = None
    """Multi-model only: the bundle's name under the models prefix (default: its file name)."""

    def __post_init__(self) -> None:
        _check_target(self)


@dataclass(frozen=True)
class Deployment:
    """What a deploy created, and the endpoint's status when it returned."""

    endpoint_name: str
    endpoint_config_name: str
    model_name: str
    model_data_url: str
    """The tarball (single-model) or the prefix of tarballs (multi-model) the model reads."""
    bundle_url: str
    is_update: bool
    status: str
    target_model: str | None = None
    """Multi-model only: what invocations pass as `TargetModel` to reach this bundle."""


@dataclass(frozen=True)
class UploadedModel:
    """A bundle placed under a multi-model endpoint's prefix."""

    target_model: str
    """What invocations pass as `TargetModel` (`--target-model` of invoke-endpoint)."""
    url: str
    is_new: bool
    """False when the same bundle was already there (nothing was uploaded)."""


# ----------------------------------------------------------------- building the clients


def upload_config(*, use_threads: bool = True) -> Any:
    """boto3's TransferConfig for bundles: multipart above 64 MiB, parts sent in parallel."""
    boto3 = _boto3()
    return boto3.s3.transfer.TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD_BYTES,
        multipart_chunksize=MULTIPART_CHUNK_BYTES,
        max_concurrency=UPLOAD_CONCURRENCY,
        use_threads=use_threads,
    )


def create_deployer(region: str | None = None) -> "SageMakerDeployer":
    """A deployer on boto3 clients for `region` (default: AWS_REGION or the profile's)."""
    boto3 = _boto3()
    botocore_errors = _botocore_errors()
    try:
        session = boto3.session.Session(region_name=region)
        sagemaker = session.client("sagemaker")
        s3 = session.client("s3")
    except botocore_errors.NoRegionError:
        raise DeployError("no AWS region is configured: pass --region, or set AWS_REGION") from None
    except botocore_errors.BotoCoreError as error:
        raise DeployError(f"cannot create the AWS clients: {error}") from None
    return SageMakerDeployer(sagemaker, s3, transfer_config=upload_config())


def _boto3() -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
        import boto3.s3.transfer  # type: ignore[import-untyped]
    except ImportError:
        raise DeployError(
            "deploying to SageMaker needs boto3, which is not installed: "
            "pip install 'practica[aws]'"
        ) from None
    return boto3


def _botocore_errors() -> Any:
    """The module `botocore.exceptions` (botocore ships no type information)."""
    import botocore.exceptions  # type: ignore[import-untyped]

    return botocore.exceptions


def parse_environment(pairs: Iterable[str]) -> dict[str, str]:
    """`KEY=VALUE` strings (the CLI's repeated --env) as the container's environment."""
    environment: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not _ENV_KEY.fullmatch(key):
            raise DeployError(f"--env expects KEY=VALUE with KEY a variable name, got {pair!r}")
        environment[key] = value
    return environment


# ----------------------------------------------------------------- the deployer


class SageMakerDeployer:
    """Deploys bundles through the SageMaker and S3 clients it is given.

    `transfer_config` is boto3's TransferConfig for uploads (`upload_config()`; boto3's
    own default when None); `clock` names each deploy; the waiter polls every
    `wait_delay_s` seconds, `wait_max_attempts` times.
    """

    def __init__(
        self,
        sagemaker: SageMakerClient,
        s3: S3Client,
        *,
        transfer_config: Any = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wait_delay_s: int = WAIT_DELAY_S,
        wait_max_attempts: int = WAIT_MAX_ATTEMPTS,
    ) -> None:
        self._sagemaker = sagemaker
        self._s3 = s3
        self._transfer_config = transfer_config
        self._clock = clock
        self._wait_delay_s = wait_delay_s
        self._wait_max_attempts = wait_max_attempts

    def deploy(
        self,
        bundle: Path,
        target: EndpointTarget,
        *,
        wait: bool = True,
        on_step: Callable[[str], None] | None = None,
        on_upload: Callable[[int], None] | None = None,
    ) -> Deployment:
        """Upload `bundle` and create or update `target.endpoint_name` to serve it.

        `on_step` hears each step as it starts; `on_upload` the bytes sent, as they go.
        """
        step = on_step or (lambda _message: None)
        environment = _container_environment(target)
        _check_bundle(bundle)
        target_model = target.target_model or bundle.name
        if target.is_multi_model:
            _check_target_model(target_model)
        endpoint = target.endpoint_name

        step(f"looking up endpoint {endpoint}")
        existing = self._describe_endpoint_if_any(endpoint)
        if existing is not None:
            _check_updatable(endpoint, existing)

        step(f"reading {bundle.name}")
        sha256 = _sha256_of(bundle)
        deploy_id = f"{sha256[:8]}-{self._clock():%Y%m%d%H%M%S}"
        name = _resource_name(endpoint, deploy_id)
        container, placed = self._place_bundle(bundle, target, deploy_id, sha256, step, on_upload)
        if environment:
            container["Environment"] = environment

        step(f"creating model {name}")
        self._create_model_and_config(name, target, container)
        if existing is None:
            step(f"creating endpoint {endpoint}")
            with _aws(f"create endpoint {endpoint}", "CreateEndpoint", target):
                self._sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=name)
            status = "Creating"
        else:
            step(f"updating endpoint {endpoint} to config {name}")
            with _aws(f"update endpoint {endpoint}", "UpdateEndpoint", target):
                self._sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=name)
            status = "Updating"
        logger.info("endpoint %s: config %s, bundle %s", endpoint, name, placed.url)

        if wait:
            step(f"waiting for {endpoint} to be InService (several minutes)")
            status = self.wait_until_in_service(endpoint, expected_config=name)
        return Deployment(
            endpoint_name=endpoint,
            endpoint_config_name=name,
            model_name=name,
            model_data_url=container["ModelDataUrl"],
            bundle_url=placed.url,
            is_update=existing is not None,
            status=status,
            target_model=placed.target_model if target.is_multi_model else None,
        )

    def add_model(
        self,
        bundle: Path,
        endpoint_name: str,
        *,
        target_model: str | None = None,
        on_upload: Callable[[int], None] | None = None,
    ) -> UploadedModel:
        """Upload one more bundle under a multi-model endpoint's prefix, which serves it
        at once as `target_model` (default: the bundle's file name).

        The prefix is read from the endpoint's model. A name already there holding another
        bundle is refused: SageMaker keeps serving the copy it has cached, so a new
        version of a model goes under a new name.
        """
        _check_name("endpoint name", endpoint_name)
        _check_bundle(bundle)
        name = target_model or bundle.name
        _check_target_model(name)
        bucket, prefix = _split_s3_url(self._multi_model_prefix(endpoint_name))
        return self._upload_model(bundle, bucket, prefix + name, _sha256_of(bundle), on_upload)

    def wait_until_in_service(self, endpoint_name: str, *, expected_config: str) -> str:
        """Wait for InService, then check that the endpoint runs `expected_config`.

        SageMaker rolls a failed update back to the previous config and reports InService
        again: serving the old config is a failed deploy too.
        """
        waiter_error = _botocore_errors().WaiterError
        # The waiter turns AWS's answers into a WaiterError; _aws handles the rest
        # (no credentials, no network).
        with _aws(f"wait for endpoint {endpoint_name}", "DescribeEndpoint"):
            waiter = self._sagemaker.get_waiter("endpoint_in_service")
            try:
                waiter.wait(
                    EndpointName=endpoint_name,
                    WaiterConfig={
                        "Delay": self._wait_delay_s,
                        "MaxAttempts": self._wait_max_attempts,
                    },
                )
            except waiter_error as error:
                raise _waiter_failure(endpoint_name, error) from None
        with _aws(f"describe endpoint {endpoint_name}", "DescribeEndpoint"):
            described = self._sagemaker.describe_endpoint(EndpointName=endpoint_name)
        serving = described.get("EndpointConfigName")
        if serving != expected_config:
            reason = described.get("FailureReason", "SageMaker gave no reason")
            raise DeployError(
                f"the update of endpoint {endpoint_name} failed and SageMaker rolled it back "
                f"to config {serving}: {reason}. {_logs_hint(endpoint_name)}",
                operation="UpdateEndpoint",
            )
        return str(described["EndpointStatus"])

    # ------------------------------------------------------------- steps

    def _place_bundle(
        self,
        bundle: Path,
        target: EndpointTarget,
        deploy_id: str,
        sha256: str,
        step: Callable[[str], None],
        on_upload: Callable[[int], None] | None,
    ) -> tuple[dict[str, Any], UploadedModel]:
        """Upload the bundle where the model will read it; the model's container with it."""
        base = "/".join(part for part in (target.prefix.strip("/"), target.endpoint_name) if part)
        if target.is_multi_model:
            models_prefix = f"{base}/models/"
            target_model = target.target_model or bundle.name
            step(f"uploading {bundle.name} as {target_model}")
            placed = self._upload_model(
                bundle, target.bucket, models_prefix + target_model, sha256, on_upload
            )
            container = {
                "Image": target.image_uri,
                "Mode": "MultiModel",
                "ModelDataUrl": f"s3://{target.bucket}/{models_prefix}",
            }
            return container, placed
        key = f"{base}/{deploy_id}/model.tar.gz"
        step(f"uploading {bundle.name}")
        self._upload(bundle, target.bucket, key, sha256, on_upload)
        url = f"s3://{target.bucket}/{key}"
        container = {"Image": target.image_uri, "ModelDataUrl": url}
        return container, UploadedModel(target_model="model.tar.gz", url=url, is_new=True)

    def _create_model_and_config(
        self, name: str, target: EndpointTarget, container: Mapping[str, Any]
    ) -> None:
        with _aws("create the SageMaker model", "CreateModel", target):
            self._sagemaker.create_model(
                ModelName=name, ExecutionRoleArn=target.role_arn, PrimaryContainer=container
            )
        with _aws("create the endpoint config", "CreateEndpointConfig", target):
            self._sagemaker.create_endpoint_config(
                EndpointConfigName=name,
                ProductionVariants=[
                    {
                        "VariantName": target.variant_name,
                        "ModelName": name,
                        "InitialInstanceCount": target.instance_count,
                        "InstanceType": target.instance_type,
                        "InitialVariantWeight": 1.0,
                    }
                ],
            )

    def _describe_endpoint_if_any(self, endpoint_name: str) -> dict[str, Any] | None:
        try:
            with _aws(f"look up endpoint {endpoint_name}", "DescribeEndpoint"):
                return self._sagemaker.describe_endpoint(EndpointName=endpoint_name)
        except DeployError as error:
            # SageMaker answers an unknown endpoint with a ValidationException.
            if error.code == "ValidationException" and "Could not find" in str(error):
                return None
            raise

    def _multi_model_prefix(self, endpoint_name: str) -> str:
        with _aws(f"look up endpoint {endpoint_name}", "DescribeEndpoint"):
            endpoint = self._sagemaker.describe_endpoint(EndpointName=endpoint_name)
        config_name = endpoint["EndpointConfigName"]
        with _aws(f"read endpoint config {config_name}", "DescribeEndpointConfig"):
            config = self._sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        prefixes: set[str] = set()
        for variant in config["ProductionVariants"]:
            model_name = variant["ModelName"]
            with _aws(f"read model {model_name}", "DescribeModel"):
                model = self._sagemaker.describe_model(ModelName=model_name)
            container = model.get("PrimaryContainer", {})
            if container.get("Mode") != "MultiModel":
                raise DeployError(
                    f"endpoint {endpoint_name} is not a multi-model endpoint (its model "
                    f"{model_name} serves one bundle): deploy the new bundle with "
                    "`practica deploy sagemaker` instead"
                )
            prefixes.add(container["ModelDataUrl"])
        if len(prefixes) != 1:
            raise DeployError(
                f"endpoint {endpoint_name} has variants reading different prefixes "
                f"({', '.join(sorted(prefixes))}): upload to the one you mean with "
                "`aws s3 cp BUNDLE PREFIX`"
            )
        return prefixes.pop()

    def _upload_model(
        self,
        bundle: Path,
        bucket: str,
        key: str,
        sha256: str,
        on_upload: Callable[[int], None] | None,
    ) -> UploadedModel:
        """Put a multi-model tarball at `key`, unless this very bundle is already there."""
        url = f"s3://{bucket}/{key}"
        present = self._sha256_at(bucket, key)
        target_model = key.rsplit("/", 1)[-1]
        if present == sha256:
            logger.info("%s already holds this bundle; nothing to upload", url)
            return UploadedModel(target_model=target_model, url=url, is_new=False)
        if present is not None:
            raise DeployError(
                f"{url} already holds another bundle, and a multi-model endpoint keeps "
                f"serving the copy it cached: upload this one under a new name "
                "(--target-model NAME.tar.gz)"
            )
        self._upload(bundle, bucket, key, sha256, on_upload)
        return UploadedModel(target_model=target_model, url=url, is_new=True)

    def _sha256_at(self, bucket: str, key: str) -> str | None:
        """The bundle sha256 recorded on s3://bucket/key; None if there is no such object."""
        try:
            with _aws(f"check s3://{bucket}/{key}", "HeadObject"):
                head = self._s3.head_object(Bucket=bucket, Key=key)
        except DeployError as error:
            if error.code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return str(head.get("Metadata", {}).get(SHA256_METADATA, ""))

    def _upload(
        self,
        bundle: Path,
        bucket: str,
        key: str,
        sha256: str,
        on_upload: Callable[[int], None] | None,
    ) -> None:
        action = f"upload {bundle.name} to s3://{bucket}/{key}"
        with _aws(action, "PutObject"), bundle.open("rb") as file:
            self._s3.upload_fileobj(
                file,
                bucket,
                key,
                ExtraArgs={
                    "ContentType": "application/gzip",
                    "Metadata": {SHA256_METADATA: sha256},
                },
                Callback=on_upload,
                Config=self._transfer_config,
            )


# ----------------------------------------------------------------- checks before AWS


def _check_target(target: EndpointTarget) -> None:
    _check_name("endpoint name", target.endpoint_name)
    _check_name("variant name", target.variant_name)
    if not _ROLE_ARN.fullmatch(target.role_arn):
        raise DeployError(
            f"the execution role must be an IAM role ARN such as "
            f"arn:aws:iam::123456789012:role/SageMakerExecution, got {target.role_arn!r}"
        )
    if not target.image_uri.strip():
        raise DeployError("the serving image URI is empty: pass the image you pushed to ECR")
    if not target.bucket.strip():
        raise DeployError("the S3 bucket is empty: pass the bucket to upload the bundle to")
    if not target.instance_type.startswith("ml."):
        raise DeployError(
            f"instance types start with 'ml.' (e.g. {DEFAULT_INSTANCE_TYPE}), "
            f"got {target.instance_type!r}"
        )
    if target.instance_count < 1:
        raise DeployError(f"the instance count must be at least 1, got {target.instance_count}")
    if target.target_model is not None:
        if not target.is_multi_model:
            raise DeployError(
                "a target model name (--target-model) applies to multi-model endpoints only"
            )
        _check_target_model(target.target_model)
    _container_environment(target)


def _container_environment(target: EndpointTarget) -> dict[str, str]:
    environment = dict(target.environment)
    for key in environment:
        if not _ENV_KEY.fullmatch(key):
            raise DeployError(f"{key!r} is not a valid environment variable name")
    if target.default_model is not None:
        given = environment.get(MODEL_ENVIRONMENT_DEFAULT, target.default_model)
        if given != target.default_model:
            raise DeployError(
                f"the default model is given twice ({target.default_model!r} and "
                f"{MODEL_ENVIRONMENT_DEFAULT}={given!r}): pass one"
            )
        environment[MODEL_ENVIRONMENT_DEFAULT] = target.default_model
    return environment


def _check_name(what: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise DeployError(
            f"{what} {name!r} is not valid for SageMaker: 1-63 letters, digits and "
            "hyphens, starting and ending with a letter or digit"
        )


def _check_target_model(name: str) -> None:
    if not _TARGET_MODEL.fullmatch(name):
        raise DeployError(
            f"target model name {name!r} is not valid: letters, digits, '.', '_' and '-', "
            "ending in .tar.gz (e.g. titanic-v2.tar.gz)"
        )


def _check_bundle(bundle: Path) -> None:
    if not bundle.is_file():
        raise DeployError(
            f"{bundle} is not a file: pass the model.tar.gz written by `practica export`"
        )
    try:
        with bundle.open("rb") as file:
            magic = file.read(2)
    except OSError as error:
        raise DeployError(f"cannot read {bundle}: {error.strerror}") from None
    if magic != _GZIP_MAGIC:
        raise DeployError(
            f"{bundle} is not a gzip tarball: pass the model.tar.gz written by `practica export`"
        )


def _check_updatable(endpoint_name: str, described: Mapping[str, Any]) -> None:
    status = described.get("EndpointStatus", "")
    if status in _BUSY:
        raise DeployError(
            f"endpoint {endpoint_name} is {status}: wait until it is InService "
            f"(aws sagemaker wait endpoint-in-service --endpoint-name {endpoint_name}), "
            "then deploy again"
        )
    if status == "Failed":
        reason = described.get("FailureReason", "no reason given")
        raise DeployError(
            f"endpoint {endpoint_name} failed earlier ({reason}) and cannot be updated: "
            f"delete it (aws sagemaker delete-endpoint --endpoint-name {endpoint_name}), "
            "then deploy again"
        )


# ----------------------------------------------------------------- names and files


def _resource_name(endpoint_name: str, deploy_id: str) -> str:
    """`ENDPOINT-<deploy>`, the endpoint's part shortened to fit SageMaker's 63 characters."""
    room = _NAME_MAX - len(deploy_id) - 1
    return f"{endpoint_name[:room].rstrip('-')}-{deploy_id}"


def _sha256_of(bundle: Path) -> str:
    digest = hashlib.sha256()
    with bundle.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _split_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` as (bucket, 'some/prefix/')."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key if not key or key.endswith("/") else key + "/"


# ----------------------------------------------------------------- AWS errors


@contextlib.contextmanager
def _aws(action: str, operation: str, target: EndpointTarget | None = None) -> Iterator[None]:
    """Turns botocore's errors raised inside into a DeployError saying what to do."""
    try:
        yield
    except Exception as error:
        failure = _aws_failure(error)
        if failure is None:
            raise
        code, message = failure
        hint = _hint(operation, code, message, target)
        detail = f"{code}: {message}" if code else message
        raise DeployError(
            f"cannot {action}: {detail}" + (f". {hint}" if hint else ""),
            operation=operation,
            code=code or None,
        ) from error


def _aws_failure(error: Exception) -> tuple[str, str] | None:
    """(code, message) of a botocore error; None for anything else."""
    try:
        botocore_errors = _botocore_errors()
    except ImportError:  # without botocore, nothing raised can be one of its errors
        return None
    if isinstance(error, botocore_errors.ClientError):
        details = error.response.get("Error", {})
        return str(details.get("Code", "")), str(details.get("Message", error)).rstrip(".")
    if isinstance(error, botocore_errors.BotoCoreError):
        return "", str(error).rstrip(".")
    return None


_CREDENTIAL_CODES = frozenset({
    "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken",
    "ExpiredTokenException", "SignatureDoesNotMatch", "InvalidAccessKeyId",
})  # fmt: skip


def _hint(operation: str, code: str, message: str, target: EndpointTarget | None) -> str:
    lowered = message.lower()
    if code in _CREDENTIAL_CODES or "credentials" in lowered:
        return (
            "Check your AWS credentials (aws configure, AWS_PROFILE, or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    if operation == "HeadObject" and code in ("AccessDenied", "403"):
        # Without s3:ListBucket, S3 answers 403 rather than 404 for a missing object.
        return "Your AWS identity needs s3:GetObject on the bundles and s3:ListBucket on the bucket"
    if code in ("AccessDenied", "AccessDeniedException", "403"):
        return f"Your AWS identity needs permission for {operation}"
    if code == "NoSuchBucket":
        return "Create the bucket (aws s3 mb s3://BUCKET) or pass another --bucket"
    if code == "ResourceLimitExceeded":
        instance = target.instance_type if target else "this instance type"
        return (
            f"Ask for a higher SageMaker quota for {instance} endpoint usage "
            "(Service Quotas), or choose another --instance-type or --count"
        )
    if "role" in lowered or "assume" in lowered:
        return (
            "Check --role: the role must exist, trust sagemaker.amazonaws.com, and may read "
            "the bucket and pull the image from ECR"
        )
    if "image" in lowered or "ecr" in lowered:
        return "Check --image: push the serving image to ECR in the endpoint's region"
    if "model data" in lowered or "s3" in lowered:
        return "Check that the role may read the bundle in S3, in the endpoint's region"
    if "could not connect" in lowered or "endpoint url" in lowered:
        return "Check the region (--region) and your network"
    return ""


def _waiter_failure(endpoint_name: str, error: Any) -> DeployError:
    """The DeployError for a waiter that saw the endpoint fail, or gave up waiting."""
    last = error.last_response or {}
    status = last.get("EndpointStatus")
    if status == "Failed":
        reason = last.get("FailureReason", "SageMaker gave no reason")
        return DeployError(
            f"endpoint {endpoint_name} failed: {reason}. {_logs_hint(endpoint_name)}",
            operation="DescribeEndpoint",
        )
    if status is not None:
        return DeployError(
            f"endpoint {endpoint_name} is still {status} after waiting: check again later "
            f"(aws sagemaker describe-endpoint --endpoint-name {endpoint_name})",
            operation="DescribeEndpoint",
        )
    message = last.get("Error", {}).get("Message", error.reason)
    return DeployError(
        f"cannot wait for endpoint {endpoint_name}: {message}", operation="DescribeEndpoint"
    )


def _logs_hint(endpoint_name: str) -> str:
    return f"The container's log is in CloudWatch, group /aws/sagemaker/Endpoints/{endpoint_name}"
