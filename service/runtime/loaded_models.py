"""LoadedModels: the predictors in memory, and their atomic swap when an alias moves.

The predict path only reads dictionaries here. Registry reads (metadata and artifact
files) happen at start, in the alias poller, and for the first request that pins a
version nobody has loaded yet. Loading never holds the swap lock: a large model's load
does not block a pinned load or a swap of another model; only the swap itself does.
"""

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from model_registry import (
    ModelNotFoundError,
    ModelRegistry,
    RegisteredModel,
    RegistryError,
    RegistryUnavailableError,
)
from model_registry.registry import serving_version
from service.runtime.call_costs import INLINE_BUDGET_S, measured_call_s, measured_item_s
from training import AnyModelSpec, AnySpec, LoadContext, ModelSpec, Predictor
from training.runner import REPORT_PREFIX

logger = logging.getLogger(__name__)


class NoServingVersionError(Exception):
    """A catalog model that has never been trained into this registry."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"model {name!r} has no registered version yet; train it with `practica train {name}`"
        )
        self.name = name


class ModelUnavailableError(Exception):
    """A model whose serving version failed to load and which has no earlier one loaded."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"model {name!r} is unavailable: {reason}")
        self.name = name


class LoadedModels:
    """Maps each servable model to the predictor of its serving version."""

    def __init__(
        self,
        registry: ModelRegistry,
        catalog: Sequence[AnySpec],
        *,
        default_alias: str = "production",
        pinned_cache_size: int = 8,
        context: LoadContext | None = None,
        on_swap: Callable[[str, int], None] | None = None,
        after_swaps: Callable[[], None] | None = None,
    ) -> None:
        self._registry = registry
        self.specs: dict[str, AnyModelSpec] = {
            s.name: s for s in catalog if isinstance(s, ModelSpec)
        }
        self.default_alias = default_alias
        self._context = context or LoadContext()
        self._serving: dict[str, Predictor] = {}
        self._snapshot: dict[str, RegisteredModel] = {}
        self._pinned: OrderedDict[tuple[str, int], Predictor] = OrderedDict()
        self._pinned_size = pinned_cache_size
        self._loading: dict[tuple[str, int], Future[Predictor]] = {}
        self._lock = threading.Lock()  # guards the dictionaries above; never held while loading
        self._refreshing = threading.Lock()  # one refresh at a time (poller and admin route)
        self._on_swap = on_swap
        self._after_swaps = after_swaps
        self.is_ready = False
        self.failures: dict[str, str] = {}
        self.registry_problem: str | None = None

    # ------------------------------------------------------------- hot path (no I/O)

    def lookup(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> Predictor | None:
        """The loaded predictor a request means, or None when it must be loaded first."""
        if name not in self.specs:
            raise ModelNotFoundError(name)
        if alias is not None and version is None:  # a pinned number wins, as in the registry
            model = self._snapshot.get(name)
            if model is None or alias not in model.aliases:
                return None  # maybe a brand-new alias: the slow path asks the registry
            version = model.aliases[alias]
        serving = self._serving.get(name)
        if version is None:
            if serving is None:
                if name in self.failures:
                    raise ModelUnavailableError(name, self.failures[name])
                raise NoServingVersionError(name)
            return serving
        if serving is not None and serving.version == version:
            return serving
        return self._pinned.get((name, version))

    def holds(self, predictor: Predictor) -> bool:
        """Whether `predictor` is still in memory: serving, or a cached pinned version."""
        name, version = predictor.spec.name, predictor.version
        return (
            self._serving.get(name) is predictor or self._pinned.get((name, version)) is predictor
        )

    # ------------------------------------------------------------- slow paths

    def load_pinned(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> Predictor:
        """Resolve and load a pinned version (blocking: call from a worker thread).

        Concurrent requests for one version share a single load.
        """
        resolved = self._registry.resolve(name, version=version, alias=alias)
        key = (name, resolved.version)
        with self._lock:
            if key in self._pinned:
                self._pinned.move_to_end(key)
                return self._pinned[key]
            pending = self._loading.get(key)
            owner = pending is None
            if pending is None:
                pending = self._loading[key] = Future()
        if not owner:
            return pending.result()
        try:
            predictor = self._load(name, resolved.version)
        except BaseException as error:
            pending.set_exception(error)
            raise
        finally:
            with self._lock:
                self._loading.pop(key, None)
        pending.set_result(predictor)
        with self._lock:
            self._pinned[key] = predictor
            while len(self._pinned) > self._pinned_size:
                self._pinned.popitem(last=False)
        return predictor

    def refresh(self) -> dict[str, int]:
        """Re-read alias pointers; load and swap in every model whose serving version moved.

        The swap is one dictionary assignment: requests already running keep the
        predictor they looked up, so none fails during a move.
        """
        with self._refreshing:
            try:
                snapshot = {m.name: m for m in self._registry.list_models()}
            except RegistryUnavailableError as error:
                self.registry_problem = str(error)  # not ready: the pointers cannot be read
                raise
            self.registry_problem = None
            self._snapshot = snapshot
            swapped = {}
            for name in self.specs:
                model = snapshot.get(name)
                if model is None:
                    continue
                wanted = serving_version(model, self.default_alias)
                current = self._serving.get(name)
                if current is not None and current.version == wanted:
                    self.failures.pop(name, None)  # e.g. the alias moved back to it
                    continue
                try:
                    predictor = self._load(name, wanted)
                except Exception as error:  # whatever it is, the other models keep serving
                    # Keep serving what we have; the next poll tries again. The reason shown
                    # on /readyz names no path: registry errors never do, and anything else
                    # (a library's own message may) is named by its type, the log has it all.
                    detail = str(error) if isinstance(error, RegistryError) else (
                        f"{type(error).__name__}; the server log has the details"
                    )  # fmt: skip
                    reason = f"version {wanted} could not be loaded: {detail}"
                    if self.failures.get(name) != reason:  # once, not on every poll
                        logger.exception("could not load %s v%s", name, wanted)
                    self.failures[name] = reason
                    continue
                with self._lock:
                    self._serving[name] = predictor
                self.failures.pop(name, None)
                swapped[name] = wanted
                logger.info(
                    "serving %s v%s", name, wanted, extra={"model": name, "version": wanted}
                )
                if self._on_swap is not None:
                    self._on_swap(name, wanted)
            self.is_ready = True
            if swapped and self._after_swaps is not None:
                self._after_swaps()
            return swapped

    def serving_versions(self) -> dict[str, int]:
        return {name: predictor.version for name, predictor in self._serving.items()}

    def snapshot(self) -> dict[str, RegisteredModel]:
        return self._snapshot

    def _load(self, name: str, version: int) -> Predictor:
        spec = self.specs[name]
        record = self._registry.get_version(name, version)
        artifact_files = [f for f in record.files if not f.startswith(REPORT_PREFIX)]
        artifact = spec.load(self._registry.read_files(record, artifact_files), self._context)
        predictor = Predictor(spec, version, artifact)
        predictor.call_s = measured_call_s(predictor)
        if predictor.call_s <= INLINE_BUDGET_S:  # only such calls are batched on the loop
            predictor.item_s = measured_item_s(predictor, predictor.call_s)
        return predictor
