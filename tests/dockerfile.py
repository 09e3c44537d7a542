"""The Dockerfile as tests read it: its stages, their instructions, their entrypoints."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile"


@dataclass
class Stage:
    name: str
    parent: str
    instructions: list[tuple[str, str]]

    def last(self, keyword: str) -> str | None:
        found = [argument for instruction, argument in self.instructions if instruction == keyword]
        return found[-1] if found else None


def dockerfile_stages() -> dict[str, Stage]:
    """The stages of the Dockerfile, with their instructions (continuations joined)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, argument = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            parent, _, name = argument.partition(" AS ")
            current = stages[name.strip()] = Stage(name.strip(), parent.strip(), [])
        elif current is not None:
            current.instructions.append((keyword.upper(), argument.strip()))
    return stages


def entrypoints() -> dict[str, list[str] | None]:
    """Each stage's own ENTRYPOINT, exec form (None: inherited or unset)."""
    return {
        name: json.loads(entrypoint) if (entrypoint := stage.last("ENTRYPOINT")) else None
        for name, stage in dockerfile_stages().items()
    }


def lineage(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built from, nearest first."""
    chain = [stages[name]]
    while chain[-1].parent in stages:
        chain.append(stages[chain[-1].parent])
    return chain
