"""The lock files pin every distribution an install needs, transitive ones included.

pyproject.toml pins what Practica imports; a library those pull in (starlette under
FastAPI, botocore under s3fs) could otherwise move between two installs of the same
commit. `scripts/lock.sh` writes the locks; CI installs with `dev.lock` as constraints and
the images from `serving.lock` and `train.lock`.
"""

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from service.import_guard import TRAINING_ONLY

REPO = Path(__file__).resolve().parents[2]
LOCKS = {"serving": {"s3"}, "train": {"train", "s3"}, "dev": {"dev", "train", "dvc", "s3", "aws"}}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def read_lock(name: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO / "requirements" / f"{name}.lock").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{name}.lock: {line!r} is not an exact pin"
        distribution = canonicalize_name(match[1])
        assert distribution not in pins, f"{name}.lock pins {distribution} twice"
        pins[distribution] = match[2]
    return pins


def required_closure(extras: set[str]) -> set[str]:
    """Every installed distribution `practica[extras]` needs, followed through metadata."""
    needed: set[str] = set()
    pending = [(canonicalize_name("practica"), frozenset(extras))]
    while pending:
        name, wanted = pending.pop()
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({"extra": extra}) for extra in (wanted or {""})
            ):
                continue
            dependency = canonicalize_name(requirement.name)
            if dependency not in needed:
                needed.add(dependency)
                pending.append((dependency, frozenset(requirement.extras)))
    return needed


@pytest.mark.parametrize("lock", list(LOCKS))
def test_a_lock_pins_everything_its_install_needs_at_the_installed_version(lock: str) -> None:
    pins = read_lock(lock)
    for distribution in sorted(required_closure(LOCKS[lock])):
        assert distribution in pins, f"{lock}.lock does not pin {distribution}"
        installed = importlib.metadata.version(distribution)
        assert pins[distribution] == installed, (
            f"{lock}.lock pins {distribution}=={pins[distribution]}, installed {installed}: "
            "run scripts/lock.sh"
        )


def test_locks_agree_with_pyproject_and_with_each_other() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    direct = [*project["dependencies"]] + [
        pin for extra in project["optional-dependencies"].values() for pin in extra
    ]
    dev = read_lock("dev")
    for text in direct:
        requirement = Requirement(text)
        locked = dev[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(locked, prereleases=True), f"{text} vs {locked}"
    serving, train = read_lock("serving"), read_lock("train")
    assert serving.items() <= train.items() <= dev.items()


def test_the_serving_lock_holds_no_training_library() -> None:
    names = {name.replace("-", "_") for name in read_lock("serving")}
    assert not names & (TRAINING_ONLY | {"matplotlib", "mlxtend", "onnx", "skl2onnx"})
