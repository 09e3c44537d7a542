"""SQLAlchemy tables. The Alembic migrations in `migrations/` create exactly these."""

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Dialect, ForeignKey, ForeignKeyConstraint, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that reads back timezone-aware, in UTC, from every database.

    PostgreSQL keeps the offset; SQLite stores none and hands back naive values, which
    were written in UTC. The column is the same `DateTime(timezone=True)` either way.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        datetime: UtcDateTime(),
    }


class RegisteredModelRow(Base):
    __tablename__ = "registered_models"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The version counter: incremented in the publishing transaction, so a rolled-back
    # publish leaves no gap and the row lock serialises concurrent publishers.
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class ModelVersionRow(Base):
    __tablename__ = "model_versions"

    model_name: Mapped[str] = mapped_column(
        String(64), ForeignKey("registered_models.name", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    flavor: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, Any]]
    signature: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]
    params: Mapped[dict[str, Any]]
    lineage: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class AliasRow(Base):
    __tablename__ = "model_aliases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_name", "version"], ["model_versions.model_name", "model_versions.version"]
        ),
    )

    model_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
