"""Where the registry keeps its metadata and its artifacts."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RegistrySettings(BaseSettings):
    """Registry locations, read from `PRACTICA_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="PRACTICA_", extra="ignore")

    home: Path = Field(Path(".practica"), description="folder for the embedded registry")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file in `home`"
    )
    artifact_uri: str | None = Field(
        None, description="artifact store location (folder or fsspec URL, e.g. s3://bucket/path)"
    )

    def resolved_database_url(self) -> str:
        if self.database_url is None:
            return f"sqlite:///{(self.home / 'registry.db').resolve()}"
        url = self.database_url
        # Plain postgres URLs would pick psycopg2, which we do not install.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    def resolved_artifact_uri(self) -> str:
        if self.artifact_uri is None:
            return str((self.home / "artifacts").resolve())
        return self.artifact_uri
