"""The multi-model container's models, loaded, listed, invoked and unloaded by SageMaker.

With `SAGEMAKER_MULTI_MODEL=true`, SageMaker downloads each model's tarball (a
`practica export` of one model) to `/opt/ml/models/<model_name>/model`, unpacks it, and
asks the container to load it (`POST /models`). `model_name` is SageMaker's opaque key:
every later call names it. Each hosted model gets a registry of its own in a temporary
folder, as the single-model container does: two hosted models may hold the same catalog
model at different versions, and unloading one removes all it had.

Memory: SageMaker answers a 507 from a load by unloading the models used least and
trying again, so the container refuses a load beyond its budget rather than be killed by
the kernel. A model is charged what loading it grew the process by, and at least its
artifact bytes; unloading gives the charge back, and the allocator is asked to hand the
freed pages back to the system.
"""

import asyncio
import base64
import binascii
import contextlib
import ctypes
import gc
import logging
import os
import re
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from model_registry import ModelRegistry, RegistrySettings, UnsafeBundleError
from model_registry.bundle import MANIFEST, unpacked_size
from service.container import (
    TARBALL,
    ContainerError,
    bundle_source,
    bundled_catalog,
    imported_bundle,
    model_failures,
)
from service.metrics import ServiceMetrics
from service.routes.sagemaker_io import ModelInput, RefusedError
from service.runtime import Inference, LoadedModels
from service.settings import ServiceSettings
from training import LoadContext, ModelSpec

logger = logging.getLogger(__name__)

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]{0,255}$")
DEFAULT_BUDGET_SHARE = 0.7
"""Of the memory the container may use, what the loaded models may take by default."""


class HostError(RefusedError):
    """A load, lookup or unload the host refuses; `status` and `code` are the answer's."""


@dataclass
class HostedModel:
    """One model SageMaker loaded: the bundle's model, served from its own registry."""

    name: str  # SageMaker's model_name
    url: str
    model: ModelInput  # the catalog model the bundle holds
    charge_bytes: int
    work_dir: Path
    registry: ModelRegistry
    loaded: LoadedModels
    inference: Inference

    @property
    def version(self) -> int:
        return self.loaded.serving_versions()[self.model.name]


class ModelHost:
    """The hosted models by SageMaker's name, their loads serialised and their memory counted."""

    def __init__(
        self,
        models_root: Path,
        work_dir: Path,
        settings: ServiceSettings,
        metrics: ServiceMetrics,
        *,
        budget_bytes: int | None = None,
    ) -> None:
        self.models_root = models_root
        self.budget_bytes = budget_bytes if budget_bytes is not None else default_budget_bytes()
        self._work_dir = work_dir
        self._settings = settings
        self._metrics = metrics
        self._hosted: dict[str, HostedModel] = {}
        self._loading: set[str] = set()
        self._changes = asyncio.Lock()  # one load or unload at a time: charges add up exactly
        self._folders = 0

    # ------------------------------------------------------------- reads (no I/O)

    @property
    def charged_bytes(self) -> int:
        return sum(hosted.charge_bytes for hosted in self._hosted.values())

    def get(self, name: str) -> HostedModel:
        hosted = self._hosted.get(name)
        if hosted is None:
            raise HostError(404, "model_not_loaded", f"model {name!r} is not loaded")
        return hosted

    def page(self, limit: int, token: str | None) -> tuple[list[HostedModel], str | None]:
        """Up to `limit` hosted models by name, after the token's; the next page's token."""
        names = sorted(self._hosted)
        if token is not None:
            after = _token_name(token)
            names = [name for name in names if name > after]
        shown = [self._hosted[name] for name in names[:limit]]
        more = len(names) > limit
        return shown, _page_token(shown[-1].name) if more else None

    # ------------------------------------------------------------- loading and unloading

    async def load(self, name: str, url: str) -> HostedModel:
        """Load the bundle at `url` as `name`: HostError 409, 400, 422 or 507 if it can't."""
        if not MODEL_NAME.fullmatch(name):
            raise HostError(
                422,
                "invalid_name",
                "model_name must be 1-256 letters, digits, '.', '_', '=', '+' or '-', "
                "starting with a letter or digit",
            )
        if name in self._hosted or name in self._loading:
            raise HostError(409, "model_already_loaded", f"model {name!r} is already loaded")
        self._loading.add(name)  # before any await: a second load of the name is a 409
        try:
            async with self._changes:
                source = self._source(url)
                needed = _artifact_bytes(source)
                if refusal := self._budget_refusal(name, needed):
                    raise refusal
                hosted = await run_in_threadpool(self._open, name, url, source, needed)
                if refusal := self._budget_refusal(name, hosted.charge_bytes):
                    await run_in_threadpool(_remove_files, hosted)
                    del hosted
                    await run_in_threadpool(_reclaim_memory)
                    raise refusal
                self._hosted[name] = hosted
        finally:
            self._loading.discard(name)
        logger.info(
            "loaded %s (%s v%s, %.1f MiB)",
            name,
            hosted.model.name,
            hosted.version,
            hosted.charge_bytes / 2**20,
            extra={"model": hosted.model.name, "version": hosted.version},
        )
        return hosted

    async def unload(self, name: str) -> None:
        """Forget `name` and release its memory.

        Requests already running keep what they hold and finish; new ones get a 404. Its
        batchers are left alone: a busy one answers the requests it holds, an idle one
        holds no task.
        """
        async with self._changes:
            hosted = self.get(name)
            del self._hosted[name]
            charge = hosted.charge_bytes
            await run_in_threadpool(_remove_files, hosted)
            del hosted  # the last reference but those of running requests
            await run_in_threadpool(_reclaim_memory)
        logger.info("unloaded %s, released %.1f MiB", name, charge / 2**20)

    async def close(self) -> None:
        """Unload everything, at shutdown: no request is running any more."""
        async with self._changes:
            for name in list(self._hosted):
                hosted = self._hosted.pop(name)
                await hosted.inference.close()
                await run_in_threadpool(_remove_files, hosted)

    def _source(self, url: str) -> Path:
        """The bundle a load's `url` points at, which must lie in the models folder."""
        source = bundle_source(confined_folder(url, self.models_root))
        if source is not None:
            return source
        raise HostError(
            400,
            "invalid_model_url",
            f"no Practica bundle at {url}: expected an unpacked `practica export` bundle "
            f"({MANIFEST} and blobs/) or {TARBALL}",
        )

    def _budget_refusal(self, name: str, needed: int) -> HostError | None:
        """The 507 for a model needing `needed` bytes, when the budget has not that many free."""
        free = self.budget_bytes - self.charged_bytes
        if needed <= free:
            return None
        return HostError(
            507,
            "insufficient_memory",
            f"model {name!r} needs {needed / 2**20:.1f} MiB and {max(free, 0) / 2**20:.1f} "
            f"MiB of the {self.budget_bytes / 2**20:.0f} MiB budget are free: unload a "
            "model, or raise PRACTICA_MODEL_MEMORY_MB",
        )

    def _open(self, name: str, url: str, source: Path, needed: int) -> HostedModel:
        """Import the bundle into a registry of its own and load its model (blocking)."""
        self._folders += 1
        work_dir = self._work_dir / f"model-{self._folders}"
        work_dir.mkdir()
        before = resident_bytes()
        registry: ModelRegistry | None = None
        try:
            registry = ModelRegistry.from_settings(
                RegistrySettings(home=work_dir, database_url=None, artifact_uri=None)
            )
            model = self._bundled_model(registry, source)
            loaded = LoadedModels(
                registry,
                [model.spec],
                default_alias=self._settings.default_alias,
                pinned_cache_size=self._settings.pinned_cache_size,
                context=LoadContext(threads=self._settings.inference_threads),
            )
            loaded.refresh()
            failures = model_failures(loaded)
            if failures:
                raise HostError(422, "model_unloadable", f"cannot load {failures}")
        except BaseException:
            if registry is not None:
                registry.close()
            shutil.rmtree(work_dir, ignore_errors=True)
            raise
        inference = Inference(
            loaded,
            self._metrics,
            batching=self._settings.batching,
            timeout_s=self._settings.inference_timeout_s,
        )
        charge = max(needed, resident_bytes() - before)
        return HostedModel(name, url, model, charge, work_dir, registry, loaded, inference)

    def _bundled_model(self, registry: ModelRegistry, source: Path) -> ModelInput:
        """The one servable model of the bundle (or PRACTICA_DEFAULT_MODEL among several)."""
        from training import CATALOG

        try:
            manifest = imported_bundle(registry, source)
            catalog = bundled_catalog(manifest, CATALOG, self._settings.default_model)
        except ContainerError as error:
            raise HostError(422, "invalid_bundle", str(error)) from None
        servable = [spec for spec in catalog if isinstance(spec, ModelSpec)]
        if len(servable) > 1:
            default = self._settings.default_model
            chosen = [spec for spec in servable if spec.name == default]
            if not chosen:
                names = ", ".join(spec.name for spec in servable)
                raise HostError(
                    422,
                    "model_not_chosen",
                    f"the bundle holds {len(servable)} models ({names}) and a multi-model "
                    "endpoint invokes one per tarball: export one (`practica export NAME`), "
                    "or set PRACTICA_DEFAULT_MODEL",
                )
            servable = chosen
        return ModelInput.of(servable[0])


def confined_folder(url: str, root: Path) -> Path:
    """`url` as a folder inside `root`, reached through no link; HostError 400 otherwise.

    SageMaker unpacks each model below /opt/ml/models; a load naming any other place, or
    reaching one through a symbolic link, would read files the container was not given.
    """
    path = Path(url)
    refused = HostError(
        400,
        "invalid_model_url",
        f"url must be a folder under {root} reached through no link; got {url[:300]!r}",
    )
    if not path.is_absolute() or ".." in path.parts or "\x00" in url:
        raise refused
    real_root = root.resolve()
    if os.path.realpath(path) != os.path.normpath(path):  # a link on the way
        raise refused
    if not path.is_dir() or not path.resolve().is_relative_to(real_root):
        raise refused
    return path


def _artifact_bytes(source: Path) -> int:
    """What the bundle's files hold: the least a model loaded from it costs in memory."""
    try:
        return unpacked_size(source)
    except (UnsafeBundleError, OSError, tarfile.TarError) as error:
        raise HostError(422, "invalid_bundle", f"cannot import the bundle: {error}") from None


def _remove_files(hosted: HostedModel) -> None:
    hosted.registry.close()
    shutil.rmtree(hosted.work_dir, ignore_errors=True)


def _reclaim_memory() -> None:
    """Free what unloaded models left in reference cycles now, not at some later collection,
    and hand the freed pages back to the system: glibc keeps them in its arenas otherwise."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def resident_bytes() -> int:
    """This process's resident memory now (0 where /proc is not there to say)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def default_budget_bytes() -> int:
    """A share of the memory this container may use: its cgroup's limit, else the machine's."""
    return int(DEFAULT_BUDGET_SHARE * min(_memory_limits(), default=8 * 2**30))


def _memory_limits() -> Iterator[int]:
    with contextlib.suppress(OSError, ValueError):
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            yield int(limit)
    with contextlib.suppress(OSError, ValueError):
        yield os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _page_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _token_name(token: str) -> str:
    try:
        name = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        name = None
    # The decoder skips characters outside its alphabet: only a token this server could
    # have given is one.
    if name is None or _page_token(name) != token:
        raise HostError(400, "invalid_page_token", "next_page_token is not one this server gave")
    return name
