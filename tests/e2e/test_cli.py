"""The `practica` command as a user runs it."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import practica_command

pytestmark = pytest.mark.e2e

COMMANDS = [[], ["train"], ["serve"], ["up"], ["models"], ["models", "list"], ["models", "show"],
            ["alias"], ["export"], ["import"], ["container"], ["container", "serve"]]  # fmt: skip


def run(args: list[str], home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRACTICA_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [*practica_command(), *args], env=env, capture_output=True, text=True, check=check
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "practica")
def test_every_command_has_help(command: list[str], tmp_path: Path) -> None:
    result = run([*command, "--help"], tmp_path)
    assert "Usage" in result.stdout


def test_train_list_export_import_round_trip(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    trained = run(["train", "iris-pca", "--profile", "smoke"], source)
    assert "iris-pca v1" in trained.stdout
    assert "iris-pca" in run(["models", "list"], source).stdout
    shown = run(["models", "show", "iris-pca"], source).stdout
    assert "explained_variance_2d" in shown
    assert "compared with none" in shown
    assert "libraries" in shown
    assert "numpy" in shown
    run(["train", "iris-pca", "--profile", "smoke"], source)
    assert "compared with v1" in run(["models", "show", "iris-pca"], source).stdout

    bundle = tmp_path / "model.tar.gz"
    run(["export", "iris-pca", "--out", str(bundle)], source)
    imported = run(["import", str(bundle)], target)
    assert "Imported 2 version(s) of 1 model(s)" in imported.stdout
    run(["alias", "iris-pca", "staging", "1"], target)
    assert "staging" in run(["models", "show", "iris-pca"], target).stdout


def test_mistakes_get_a_clear_message_and_nonzero_exit(tmp_path: Path) -> None:
    unknown = run(["train", "no-such-model"], tmp_path, check=False)
    assert unknown.returncode != 0
    assert "known models" in unknown.stderr
    neither = run(["train"], tmp_path, check=False)
    assert neither.returncode != 0
    assert "--all" in neither.stderr
    missing = run(["alias", "iris-pca", "production", "3"], tmp_path, check=False)
    assert missing.returncode != 0
    assert "not registered" in missing.stderr


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's message, checked to be a single `error:` line with status 1."""
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_failures_are_one_line_never_a_traceback(tmp_path: Path) -> None:
    assert "not registered" in one_error_line(run(["models", "show", "nope"], tmp_path, False))
    assert "not registered" in one_error_line(
        run(["alias", "nope", "production", "1"], tmp_path, False)
    )
    unreachable = subprocess.run(
        [*practica_command(), "models", "list"],
        env={
            **os.environ,
            "PRACTICA_HOME": str(tmp_path),
            "PRACTICA_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none",
        },
        capture_output=True,
        text=True,
    )
    assert "PRACTICA_DATABASE_URL" in one_error_line(unreachable)


def test_a_command_that_did_nothing_fails(tmp_path: Path) -> None:
    out = tmp_path / "empty.tar.gz"
    nothing = run(["export", "--out", str(out)], tmp_path / "empty-home", check=False)
    assert "no version to export" in one_error_line(nothing)
    assert not out.exists()


@pytest.mark.parametrize("variable", ["PRACTICA_ADMIN_TOKEN", "PRACTICA_API_TOKEN"])
def test_an_empty_token_is_refused_by_name_before_serving(variable: str, tmp_path: Path) -> None:
    """An empty token would leave its routes open, or shut to everyone, without a word."""
    refused = subprocess.run(
        [*practica_command(), "serve", "--port", "1"],
        env={**os.environ, "PRACTICA_HOME": str(tmp_path), variable: " "},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"{variable}: is set but empty" in one_error_line(refused)
