"""The suite sees the defaults, not the developer's PRACTICA_* settings or `.env`."""

import os
from pathlib import Path

import pytest

from service.settings import ServiceSettings
from tests.conftest import TEST_RUN_VARIABLES


def test_no_practica_variable_reaches_the_tests_but_the_test_runs_own() -> None:
    leaked = {v for v in os.environ if v.startswith(("PRACTICA_", "SAGEMAKER_"))}
    assert leaked <= TEST_RUN_VARIABLES


def test_a_dotenv_in_the_working_directory_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("PRACTICA_DEFAULT_ALIAS=from-dotenv\n")
    monkeypatch.chdir(tmp_path)
    assert ServiceSettings().default_alias == "production"
