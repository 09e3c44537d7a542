"""XGBoost: boosters in XGBoost's own UBJSON format, and `XGBoostSpec`."""

from collections.abc import Mapping
from typing import Any, ClassVar

from model_registry.flavors import dump_xgboost, load_xgboost
from training.frameworks.base import META_FILE, dump_meta, rebuild
from training.frameworks.compiled import compiled_files, with_compiled
from training.spec import ArtT, CfgT, DataT, InT, LoadContext, ModelSpec, OutT

BOOSTER_FILE = "model.ubj"


def load_booster(data: bytes, context: LoadContext) -> Any:
    booster = load_xgboost(data)
    # A request's rows are few: more threads than the server grants cost more than they give.
    booster.set_param({"nthread": context.threads})
    return booster


class XGBoostSpec(ModelSpec[InT, OutT, CfgT, DataT, ArtT]):
    """A model whose artifact dataclass holds an `xgboost.Booster` in its `booster` field,
    and may hold the booster's compiled graph (`compiled_field`)."""

    flavor: ClassVar[str] = "xgboost"

    def save(self, artifact: ArtT) -> dict[str, bytes]:
        return {
            BOOSTER_FILE: dump_xgboost(artifact.booster),  # type: ignore[attr-defined]
            META_FILE: dump_meta(artifact, "booster"),
            **compiled_files(artifact),
        }

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> ArtT:
        booster = load_booster(files[BOOSTER_FILE], context)
        artifact = rebuild(self.artifact_type, "booster", booster, files)
        loaded: ArtT = with_compiled(artifact, files, context)
        return loaded
