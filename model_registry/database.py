"""Engines and schema migrations for SQLite (embedded) and PostgreSQL (scale-out)."""

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_LOCK_KEY = int.from_bytes(b"PRACTICA")  # PostgreSQL advisory lock: a signed 64-bit key


def create_registry_engine(url: str) -> Engine:
    """An engine tuned for the registry's access pattern (many readers, rare writers)."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # timeout: concurrent publishers wait for the write lock instead of failing.
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # a training run never blocks the server's reads
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade_schema(engine: Engine) -> None:
    """Bring the schema to the newest migration; a no-op when it is already there.

    Processes that open a fresh registry at once (a trainer and servers starting
    together) take turns: the first migrates, the others then find the schema current.
    """
    config = alembic_config(engine)
    head = ScriptDirectory.from_config(config).get_current_head()
    if _current_revision(engine) == head:
        return
    with schema_lock(engine):
        if _current_revision(engine) != head:
            command.upgrade(config, "head")


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextlib.contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Held by one process at a time, across processes, while the schema is migrated."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY}
                )
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield  # nobody else can see this database
        return
    if sys.platform == "win32":  # no flock: the first open of a fresh registry must be alone
        yield
        return
    import fcntl

    with Path(f"{database}.migrate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield
