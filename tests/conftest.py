"""Shared fixtures: registries on SQLite and on the real PostgreSQL, and a smoke-trained home."""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from model_registry import ModelRegistry, RegistrySettings
from model_registry.artifact_store import ContentStore
from model_registry.database import create_registry_engine, upgrade_schema
from training import CATALOG, train_and_publish

# The suite runs with the defaults, whatever the developer's shell or `.env` configures:
# a PRACTICA_HOME or PRACTICA_API_TOKEN left set would change what the tests see, and
# every server process a test starts inherits this environment. Only the variables that
# configure the test run itself stay.
TEST_RUN_VARIABLES = frozenset(
    {"PRACTICA_TEST_POSTGRES_URL", "PRACTICA_REQUIRE_POSTGRES", "PRACTICA_REQUIRE_BROWSER"}
)
for _variable in [v for v in os.environ if v.startswith(("PRACTICA_", "SAGEMAKER_"))]:
    if _variable not in TEST_RUN_VARIABLES:
        del os.environ[_variable]

POSTGRES_URL = os.environ.get(
    "PRACTICA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# CI sets this: there a missing PostgreSQL fails the run instead of skipping its tests.
POSTGRES_REQUIRED = os.environ.get("PRACTICA_REQUIRE_POSTGRES") == "1"


@pytest.fixture(autouse=True)
def no_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built in a test ignore a `.env` in the working directory."""
    from service.settings import ServiceSettings

    monkeypatch.setitem(ServiceSettings.model_config, "env_file", None)


def _postgres_available() -> str | None:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(error).__name__})"
    finally:
        engine.dispose()
    return None


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop uvicorn serves on."""
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = _postgres_available()
    if problem is not None:
        if POSTGRES_REQUIRED:
            pytest.fail(f"{problem}; PRACTICA_REQUIRE_POSTGRES=1 makes it mandatory")
        pytest.skip(f"{problem}; set PRACTICA_TEST_POSTGRES_URL to run these tests")
    return POSTGRES_URL


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL whose connections use a fresh schema of their own, dropped afterwards."""
    schema = f"practica_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def registry_settings(database_url: str, tmp_path: Path) -> RegistrySettings:
    return RegistrySettings(
        home=tmp_path, database_url=database_url, artifact_uri=str(tmp_path / "artifacts")
    )


@pytest.fixture
def registry(registry_settings: RegistrySettings) -> Iterator[ModelRegistry]:
    """A registry on each backend in turn (SQLite, then the real PostgreSQL)."""
    opened = ModelRegistry.from_settings(registry_settings)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_registry(tmp_path: Path) -> Iterator[ModelRegistry]:
    engine = create_registry_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    upgrade_schema(engine)
    opened = ModelRegistry(engine, ContentStore(str(tmp_path / "artifacts")))
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry home with every catalog model smoke-trained once per test session."""
    home = tmp_path_factory.mktemp("trained-home")
    registry = ModelRegistry.from_settings(RegistrySettings(home=home))
    try:
        for spec in CATALOG:
            train_and_publish(spec, registry, profile="smoke")
    finally:
        registry.close()
    return home


@pytest.fixture
def home_copy(trained_home: Path, tmp_path: Path) -> Path:
    """A private copy of the trained home, for tests that move aliases or publish."""
    target = tmp_path / "home"
    shutil.copytree(trained_home, target)
    return target
