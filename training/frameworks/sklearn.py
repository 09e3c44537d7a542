"""scikit-learn: skops storage restricted to our trusted types, and `SklearnSpec`.

skops writes a Python dict entry by entry with its type information, so a fitted
vectorizer's vocabulary of 100,000 n-grams would take tens of megabytes and seconds to
load. Each vocabulary is stored instead as one JSON list of terms in column order and put
back on load; the rest of the estimator stays in skops.
"""

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from model_registry.errors import ArtifactIntegrityError
from model_registry.flavors import dump_json, dump_skops, load_json, load_skops
from training.frameworks.base import META_FILE, dump_meta, rebuild
from training.frameworks.compiled import compiled_files, with_compiled
from training.spec import ArtT, CfgT, DataT, InT, LoadContext, ModelSpec, OutT

TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
)
"""Types a skops artifact may hold beyond skops' defaults. This list lives in our code and is
never read from an artifact: loading refuses any artifact that needs a type missing here."""

ESTIMATOR_FILE = "model.skops"
VOCABULARY_FILE = "vocabularies.json"


def _vectorizers(estimator: Any, path: str = "") -> dict[str, Any]:
    """Every CountVectorizer (TfidfVectorizer included) in an estimator, by its step path."""
    from sklearn.feature_extraction.text import CountVectorizer

    if isinstance(estimator, CountVectorizer):
        return {path: estimator}
    found: dict[str, Any] = {}
    for name, step in [
        *getattr(estimator, "steps", []),
        *getattr(estimator, "transformer_list", []),
    ]:
        found.update(_vectorizers(step, f"{path}/{name}"))
    return found


def dump_estimator(estimator: Any, file: str = ESTIMATOR_FILE) -> dict[str, bytes]:
    """skops bytes of `estimator`, with any text vocabularies split out as JSON."""
    vectorizers = _vectorizers(estimator)
    if not vectorizers:
        return {file: dump_skops(estimator)}
    stripped = copy.deepcopy(estimator)
    vocabularies = {}
    for path, vectorizer in _vectorizers(stripped).items():
        vocabulary = vectorizer.vocabulary_
        vocabularies[path] = sorted(vocabulary, key=vocabulary.__getitem__)
        del vectorizer.vocabulary_
    return {file: dump_skops(stripped), VOCABULARY_FILE: dump_json(vocabularies)}


def load_estimator(files: Mapping[str, bytes], file: str = ESTIMATOR_FILE) -> Any:
    estimator = load_skops(files[file], TRUSTED_TYPES)
    vectorizers = _vectorizers(estimator)
    if not vectorizers:
        return estimator
    vocabularies: dict[str, list[str]] = load_json(files[VOCABULARY_FILE])
    if set(vectorizers) != set(vocabularies):
        raise ArtifactIntegrityError(
            f"the artifact's vocabularies ({sorted(vocabularies)}) do not match its "
            f"vectorizers ({sorted(vectorizers)})"
        )
    for path, terms in vocabularies.items():
        vectorizers[path].vocabulary_ = {term: index for index, term in enumerate(terms)}
    return estimator


class SklearnSpec(ModelSpec[InT, OutT, CfgT, DataT, ArtT]):
    """A model whose artifact dataclass holds a fitted estimator in its `estimator` field.

    The estimator goes to `model.skops`, every other field to `meta.json`, and a compiled
    graph, when the artifact has one (`compiled_field`), to `compiled.onnx`.
    """

    flavor: ClassVar[str] = "skops"

    def save(self, artifact: ArtT) -> dict[str, bytes]:
        return {
            **dump_estimator(artifact.estimator),  # type: ignore[attr-defined]
            META_FILE: dump_meta(artifact, "estimator"),
            **compiled_files(artifact),
        }

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> ArtT:
        artifact = rebuild(self.artifact_type, "estimator", load_estimator(files), files)
        loaded: ArtT = with_compiled(artifact, files, context)
        return loaded
