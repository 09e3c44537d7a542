"""Save and load scikit-learn text pipelines: skops for the estimators, JSON for vocabularies.

skops writes a Python dict entry by entry with its type information, so a fitted
vectorizer's vocabulary of 100,000 n-grams would take tens of megabytes and seconds to
load. Each vocabulary is stored instead as one JSON list of terms in column order and put
back on load; the rest of the pipeline stays in skops.
"""

import copy
from collections.abc import Mapping
from typing import Any

from model_registry.errors import ArtifactIntegrityError
from model_registry.flavors import dump_json, load_json
from training.sklearn_artifacts import load_estimator, save_estimator

VOCABULARY_FILE = "vocabularies.json"


def _vectorizers(estimator: Any, path: str = "") -> dict[str, Any]:
    """Every CountVectorizer (TfidfVectorizer included) in a pipeline, by its step path."""
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


def save_text_pipeline(pipeline: Any, meta: Mapping[str, Any] | None = None) -> dict[str, bytes]:
    stripped = copy.deepcopy(pipeline)
    vocabularies = {}
    for path, vectorizer in _vectorizers(stripped).items():
        vocabulary = vectorizer.vocabulary_
        vocabularies[path] = sorted(vocabulary, key=vocabulary.__getitem__)
        del vectorizer.vocabulary_
    return {**save_estimator(stripped, meta), VOCABULARY_FILE: dump_json(vocabularies)}


def load_text_pipeline(files: Mapping[str, bytes]) -> Any:
    pipeline = load_estimator(files)
    vocabularies: dict[str, list[str]] = load_json(files[VOCABULARY_FILE])
    vectorizers = _vectorizers(pipeline)
    if set(vectorizers) != set(vocabularies):
        raise ArtifactIntegrityError(
            f"the artifact's vocabularies ({sorted(vocabularies)}) do not match its "
            f"vectorizers ({sorted(vectorizers)})"
        )
    for path, terms in vocabularies.items():
        vectorizers[path].vocabulary_ = {term: index for index, term in enumerate(terms)}
    return pipeline
