"""Write docs/models.md from the registry: one card per catalog model, serving version's numbers.

Run after `practica train --all` (full profile):  .venv/bin/python scripts/write_model_cards.py
"""

import json
import sys
from pathlib import Path

from model_registry import ModelNotFoundError, ModelRegistry
from service.settings import ServiceSettings
from training import CATALOG
from training.runner import REPORT_PREFIX

OUT = Path(__file__).resolve().parent.parent / "docs" / "models.md"


def main() -> int:
    registry = ModelRegistry.from_settings(ServiceSettings())
    lines = [
        "# Model cards",
        "",
        "Numbers of the version each model serves, trained with the full profile on the",
        "bundled data. Regenerate with `python scripts/write_model_cards.py` after",
        "`practica train --all`.",
        "Metrics are on held-out data unless their name says `train`.",
        "",
    ]
    for spec in CATALOG:
        lines += [f"## {spec.name} (module {spec.module})", "", spec.title + ".", ""]
        try:
            version = registry.resolve(spec.name)
        except ModelNotFoundError:
            lines += ["Not trained in this registry.", ""]
            continue
        floors = ", ".join(
            f"`{f.metric}` {_bound(f.minimum, f.maximum)}"
            for f in spec.version_floors(version.params)
        )
        datasets = ", ".join(f"`{k}` {v[:12]}…" for k, v in version.lineage.dataset_sha256.items())
        aliases = ", ".join(version.aliases) or "no alias"
        lines += [
            f"- version {version.version} ({aliases}), profile `{version.lineage.profile}`, "
            f"trained in {version.lineage.training_seconds or 0:.1f} s",
            f"- floors: {floors or 'none'}",
            f"- datasets: {datasets}",
            "",
            "| metric | value |",
            "|---|---|",
            *(f"| `{k}` | {v:.6g} |" for k, v in version.metrics.items()),
            "",
        ]
        report = json.loads(registry.read_file(version, f"{REPORT_PREFIX}report.json"))
        lines += [f"> {note}" for note in report["notes"]] + [""]
    registry.close()
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")  # noqa: T201
    return 0


def _bound(minimum: float | None, maximum: float | None) -> str:
    return f"≥ {minimum:g}" if minimum is not None else f"≤ {maximum:g}"


if __name__ == "__main__":
    sys.exit(main())
