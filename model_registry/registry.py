"""ModelRegistry: publish immutable versions, move aliases, read verified artifacts."""

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from model_registry.artifact_store import ContentStore
from model_registry.database import create_registry_engine, upgrade_schema
from model_registry.errors import (
    AliasNotFoundError,
    ModelNotFoundError,
    RegistryError,
    RegistryUnavailableError,
    VersionConflictError,
    VersionNotFoundError,
)
from model_registry.names import (
    check_alias,
    check_file_name,
    check_model_name,
    is_possible_version,
)
from model_registry.orm import AliasRow, ModelVersionRow, RegisteredModelRow
from model_registry.settings import RegistrySettings
from model_registry.versions import FileRef, Lineage, ModelVersion, RegisteredModel, Signature

DEFAULT_ALIAS = "production"

T = TypeVar("T")


class ModelRegistry:
    """Metadata in SQL, artifacts in a content-addressed store.

    A version becomes visible in one database transaction, after every file has been
    stored and verified; until then only unreferenced blobs exist, which no reader sees.
    """

    def __init__(self, engine: Engine, store: ContentStore) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.store = store

    @classmethod
    def from_settings(cls, settings: RegistrySettings | None = None) -> "ModelRegistry":
        """Open (and migrate, when needed) the registry the settings point at."""
        settings = settings or RegistrySettings()
        engine = create_registry_engine(settings.resolved_database_url())
        with _database_trouble_is_unavailable():
            upgrade_schema(engine)
        return cls(engine, ContentStore(settings.resolved_artifact_uri()))

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "ModelRegistry":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- publishing

    def publish(
        self,
        name: str,
        files: Mapping[str, bytes],
        *,
        flavor: str,
        signature: Signature | None = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        lineage: Lineage | None = None,
        aliases: Iterable[str] = (),
    ) -> ModelVersion:
        """Store `files`, then commit a new version numbered one above the last."""
        check_model_name(name)
        aliases = [check_alias(alias) for alias in aliases]
        if not files:
            raise RegistryError("a version needs at least one file")
        refs = {
            check_file_name(file_name): self.store.put(data) for file_name, data in files.items()
        }
        fields = {
            "flavor": flavor,
            "files": {key: ref.model_dump() for key, ref in refs.items()},
            "signature": (signature or Signature()).model_dump(),
            "metrics": {key: float(value) for key, value in (metrics or {}).items()},
            "params": dict(params or {}),
            "lineage": (lineage or Lineage()).model_dump(),
        }

        def transaction(session: Session) -> int:
            self._ensure_model_row(session, name)
            number = session.execute(
                update(RegisteredModelRow)
                .where(RegisteredModelRow.name == name)
                .values(latest_version=RegisteredModelRow.latest_version + 1)
                .returning(RegisteredModelRow.latest_version)
            ).scalar_one()
            _insert_version(session, name, number, fields)
            for alias in aliases:
                self._upsert_alias(session, name, alias, number)
            return number

        number = self._write(transaction)
        return self.get_version(name, number)

    def restore(
        self, versions: Sequence[ModelVersion], aliases: Sequence[tuple[str, str, int]] = ()
    ) -> None:
        """Re-create versions with their original numbers and point aliases (name, alias,
        version) at them, all in one transaction: all of it happens, or none (bundle import).

        Every file must already be in the store. A version that exists with the same files
        is left as it is; with other files, VersionConflictError and nothing changes.
        """
        rows = []
        for version in versions:
            check_model_name(version.name)
            for key in version.files:
                check_file_name(key)
            fields = version.model_dump(
                include={"flavor", "signature", "metrics", "params", "lineage"}, mode="json"
            )
            fields["files"] = {key: ref.model_dump() for key, ref in version.files.items()}
            rows.append((version, fields))
        for name, alias, _ in aliases:
            check_model_name(name)
            check_alias(alias)

        def transaction(session: Session) -> None:
            for version, fields in rows:
                self._restore_row(session, version, fields)
            for name, alias, number in aliases:
                if not is_possible_version(number) or (
                    session.get(ModelVersionRow, (name, number)) is None
                ):
                    raise VersionNotFoundError(name, number)
                self._upsert_alias(session, name, alias, number)

        self._write(transaction)

    def _restore_row(self, session: Session, version: ModelVersion, fields: dict[str, Any]) -> None:
        self._ensure_model_row(session, version.name)
        existing = session.get(ModelVersionRow, (version.name, version.version))
        if existing is not None:
            if existing.files != fields["files"]:
                raise VersionConflictError(
                    f"{version.name} v{version.version} already exists with other files"
                )
            return
        _insert_version(session, version.name, version.version, fields, version.created_at)
        row = session.get_one(RegisteredModelRow, version.name, with_for_update=True)
        row.latest_version = max(row.latest_version, version.version)

    # ---------------------------------------------------------------- aliases

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point `alias` at an existing version of `name`."""
        check_model_name(name)
        check_alias(alias)

        def transaction(session: Session) -> None:
            if (
                not is_possible_version(version)
                or session.get(ModelVersionRow, (name, version)) is None
            ):
                self.get_model(name)  # raises ModelNotFoundError first when apt
                raise VersionNotFoundError(name, version)
            self._upsert_alias(session, name, alias, version)

        self._write(transaction)

    def delete_alias(self, name: str, alias: str) -> None:
        def transaction(session: Session) -> None:
            row = session.get(AliasRow, (name, alias))
            if row is None:
                raise AliasNotFoundError(name, alias)
            session.delete(row)

        self._write(transaction)

    # ---------------------------------------------------------------- reading

    def list_models(self) -> list[RegisteredModel]:
        return self._registered_models()

    def get_model(self, name: str) -> RegisteredModel:
        found = self._registered_models(name)
        if not found:
            raise ModelNotFoundError(name)
        return found[0]

    def list_versions(self, name: str) -> list[ModelVersion]:
        model = self.get_model(name)
        with self._reading() as session:
            rows = session.scalars(
                select(ModelVersionRow)
                .where(ModelVersionRow.model_name == name)
                .order_by(ModelVersionRow.version)
            )
            return [_to_version(row, model.aliases) for row in rows]

    def get_version(self, name: str, version: int) -> ModelVersion:
        with self._reading() as session:
            row = (
                session.get(ModelVersionRow, (name, version))
                if is_possible_version(version)
                else None
            )
            if row is None:
                self.get_model(name)
                raise VersionNotFoundError(name, version)
            aliases = {
                a.alias: a.version
                for a in session.scalars(select(AliasRow).where(AliasRow.model_name == name))
            }
            return _to_version(row, aliases)

    def resolve(
        self,
        name: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        default_alias: str = DEFAULT_ALIAS,
    ) -> ModelVersion:
        """The version a request means: pinned number (which wins over an alias named too),
        named alias, or the one served by default (`default_alias`, else the newest)."""
        if version is not None:
            return self.get_version(name, version)
        model = self.get_model(name)
        if alias is not None:
            if alias not in model.aliases:
                raise AliasNotFoundError(name, alias)
            return self.get_version(name, model.aliases[alias])
        return self.get_version(name, serving_version(model, default_alias))

    def read_files(
        self, version: ModelVersion, names: Iterable[str] | None = None
    ) -> dict[str, bytes]:
        """The version's files, each verified against the sha256 recorded at publish time."""
        wanted = version.files.keys() if names is None else names
        return {key: self.read_file(version, key) for key in wanted}

    def read_file(self, version: ModelVersion, file_name: str) -> bytes:
        ref: FileRef | None = version.files.get(file_name)
        if ref is None:
            raise RegistryError(f"{version.name} v{version.version} has no file {file_name!r}")
        return self.store.get(ref)

    # ---------------------------------------------------------------- internals

    def _registered_models(self, name: str | None = None) -> list[RegisteredModel]:
        """Every registered model, or just `name`: three queries either way."""
        models = select(RegisteredModelRow).order_by(RegisteredModelRow.name)
        aliases_query = select(AliasRow)
        numbers_query = select(ModelVersionRow.model_name, ModelVersionRow.version).order_by(
            ModelVersionRow.version
        )
        if name is not None:
            models = models.where(RegisteredModelRow.name == name)
            aliases_query = aliases_query.where(AliasRow.model_name == name)
            numbers_query = numbers_query.where(ModelVersionRow.model_name == name)
        with self._reading() as session:
            aliases: dict[str, dict[str, int]] = {}
            for row in session.scalars(aliases_query):
                aliases.setdefault(row.model_name, {})[row.alias] = row.version
            numbers: dict[str, list[int]] = {}
            for model_name, number in session.execute(numbers_query):
                numbers.setdefault(model_name, []).append(number)
            return [
                RegisteredModel(
                    name=m.name,
                    latest_version=m.latest_version,
                    versions=tuple(numbers.get(m.name, ())),
                    aliases=aliases.get(m.name, {}),
                    created_at=m.created_at,
                )
                for m in session.scalars(models)
                if m.latest_version > 0
            ]

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Session]:
        with _database_trouble_is_unavailable(), self._sessions() as session:
            yield session

    def _write(self, transaction: Callable[[Session], T]) -> T:
        """Run one write transaction, retrying while SQLite reports its write lock busy."""
        for attempt in range(20):
            try:
                with _database_trouble_is_unavailable(), self._sessions.begin() as session:
                    return transaction(session)
            except RegistryUnavailableError as error:
                if "locked" not in str(error.__cause__) or attempt == 19:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _ensure_model_row(self, session: Session, name: str) -> None:
        insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(RegisteredModelRow)
            .values(name=name, latest_version=0, created_at=_now())
            .on_conflict_do_nothing(index_elements=["name"])
        )

    def _upsert_alias(self, session: Session, name: str, alias: str, version: int) -> None:
        # One statement: two writers creating the same new alias at once both succeed,
        # the later one's pointer wins (a read-then-insert made one fail on the key).
        insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(AliasRow).values(
            model_name=name, alias=alias, version=version, updated_at=_now()
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["model_name", "alias"],
                set_={"version": statement.excluded.version,
                      "updated_at": statement.excluded.updated_at},
            )
        )  # fmt: skip


@contextlib.contextmanager
def _database_trouble_is_unavailable() -> Iterator[None]:
    """The database unreachable, down or locked out: a `RegistryUnavailableError`, which
    callers can tell from a missing model (a server answers 503, not 500)."""
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        raise RegistryUnavailableError(
            "the registry's database cannot be reached or refused the query; retry shortly, "
            "and check PRACTICA_DATABASE_URL and the database server if it lasts"
        ) from error


def serving_version(model: RegisteredModel, alias: str = DEFAULT_ALIAS) -> int:
    """The version served by default: the alias when set, else the newest version."""
    return model.aliases.get(alias, model.latest_version)


def _insert_version(
    session: Session,
    name: str,
    number: int,
    fields: Mapping[str, Any],
    created_at: datetime | None = None,
) -> None:
    session.add(
        ModelVersionRow(model_name=name, version=number, created_at=created_at or _now(), **fields)
    )
    session.flush()


def _to_version(row: ModelVersionRow, aliases: Mapping[str, int]) -> ModelVersion:
    return ModelVersion(
        name=row.model_name,
        version=row.version,
        flavor=row.flavor,
        created_at=row.created_at,
        files={key: FileRef.model_validate(ref) for key, ref in row.files.items()},
        signature=Signature.model_validate(row.signature),
        metrics=row.metrics,
        params=row.params,
        lineage=Lineage.model_validate(row.lineage),
        aliases=tuple(sorted(alias for alias, v in aliases.items() if v == row.version)),
    )


def _now() -> datetime:
    return datetime.now(UTC)
