"""Service settings from `PRACTICA_*` environment variables (and an optional .env file),
and the `SAGEMAKER_*` variables SageMaker sets for the container."""

from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from model_registry import RegistrySettings

SAGEMAKER_MAX_BODY_BYTES = 6_291_456
UVICORN_OPTIONS: dict[str, Any] = {
    # uvloop enables TCP_NODELAY on its transports, which avoids 40 ms Nagle stalls.
    "loop": "uvloop",
    "http": "httptools",
    "access_log": False,  # the request middleware logs each request, once
    "log_config": None,  # keep the logging `service.logging` configured
}
"""How every Practica server process runs uvicorn (`practica serve`, the container)."""


class BatchOverride(BaseModel):
    """A model's micro-batching policy, replacing the one its spec declares."""

    max_items: int = Field(ge=1, le=1000, description="instances per call at most (1: off)")
    max_wait_ms: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="how long a request that finds the model idle waits for "
        "others to share its call (0: it runs at once)",
    )


class ServiceSettings(RegistrySettings):
    """Everything the server reads at start; the registry's locations are inherited."""

    model_config = SettingsConfigDict(env_prefix="PRACTICA_", env_file=".env", extra="ignore")

    admin_token: SecretStr | None = Field(
        None, description="bearer token for admin routes; unset means admin routes are refused"
    )
    api_token: SecretStr | None = Field(
        None, description="bearer token for prediction routes; unset means they are open"
    )
    default_model: str | None = Field(
        None,
        description="model used by /invocations without an X-Amzn-SageMaker-Target-Model header",
    )
    default_alias: str = Field("production", description="alias served when a request pins none")
    max_body_bytes: int = Field(SAGEMAKER_MAX_BODY_BYTES, ge=1024, description="request body cap")
    alias_poll_s: float = Field(
        2.0, gt=0, description="how often the server re-reads alias pointers from the registry"
    )
    pinned_cache_size: int = Field(
        8, ge=1, description="versions kept loaded for ?version=/?alias= requests"
    )
    inference_threads: int = Field(
        1,
        ge=1,
        le=64,
        description="compute threads each model call may use (ONNX Runtime, XGBoost)",
    )
    inference_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="a model call taking longer is answered 504"
    )
    batching: bool = Field(
        True, description="micro-batch concurrent requests (and share cheap models' calls)"
    )
    batch_policies: dict[str, BatchOverride] = Field(
        default_factory=dict,
        description='per-model batching as JSON, e.g. {"news-topic": {"max_items": 32}}',
    )
    model_memory_mb: int | None = Field(
        None,
        ge=1,
        description="multi-model container: MiB the loaded models may take (507 beyond); "
        "default 70% of the memory the container may use",
    )
    log_json: bool = Field(True, description="JSON log lines (false: plain text)")
    log_level: str = "INFO"
    access_log: bool = Field(
        True, description="log every request at INFO (false: only those answered with an error)"
    )

    @field_validator("admin_token", "api_token")
    @classmethod
    def _not_blank(cls, token: SecretStr | None) -> SecretStr | None:
        # An empty token would leave the routes it guards open, or closed to everyone,
        # without a word: a set variable must hold a secret.
        if token is not None and not token.get_secret_value().strip():
            raise ValueError("is set but empty: set a secret, or unset it")
        return token


class SageMakerEnvironment(BaseSettings):
    """What SageMaker tells the container (`practica container serve`) through its environment."""

    model_config = SettingsConfigDict(env_prefix="SAGEMAKER_", extra="ignore")

    base_dir: Path = Field(
        Path("/opt/ml"), description="SageMaker's folder; the unpacked model.tar.gz is in `model/`"
    )
    bind_to_port: int = Field(
        8080, ge=1, le=65535, description="port to listen on (SageMaker sets it for pipelines)"
    )
    multi_model: bool = Field(
        False, description="a multi-model endpoint: models are loaded and unloaded by SageMaker"
    )

    @property
    def model_dir(self) -> Path:
        return self.base_dir / "model"

    @property
    def models_dir(self) -> Path:
        """Where a multi-model endpoint unpacks the models it loads, one folder each."""
        return self.base_dir / "models"


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class SettingsError(ValueError):
    """Settings the environment gives that cannot be used; the message names each variable."""


def load_settings(settings_type: type[SettingsT]) -> SettingsT:
    """`settings_type` read from the environment; SettingsError naming each bad variable."""
    try:
        return settings_type()
    except ValidationError as error:
        prefix = settings_type.model_config.get("env_prefix", "")
        problems = "; ".join(
            f"{prefix}{'_'.join(map(str, e['loc'])).upper()}: "
            + e["msg"].removeprefix("Value error, ")
            for e in error.errors()
        )
        raise SettingsError(f"invalid environment: {problems}") from None


@lru_cache
def get_settings() -> ServiceSettings:
    return load_settings(ServiceSettings)
