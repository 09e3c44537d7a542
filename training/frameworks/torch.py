"""PyTorch: the training loop, seeding, device, safetensors weights and export to ONNX.

Training only. torch is imported inside functions and `TorchSpec.load` returns the ONNX
Runtime network, so importing a model module, or serving it, never loads PyTorch.
A version stores three views of one network:

    weights.safetensors   the trained parameters (training-side copy; never torch.load-ed)
    network.json          meta the code needs around the graph (classes, vocabulary...)
    model.onnx            the graph ONNX Runtime serves
"""

import contextlib
import io
import logging
import tempfile
import warnings
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from model_registry.flavors import dump_json
from training.data.splits import Holdout, SplitConfig, holdout
from training.frameworks.onnx import GRAPH_FILE, NETWORK_FILE, Inputs, NetworkSpec, take
from training.run import TrainingRun
from training.spec import CfgT, InT, OutT

if TYPE_CHECKING:
    import torch

WEIGHTS_FILE = "weights.safetensors"
TRAIN_CURVE_ROWS = 2048
LIBRARIES = ("torch", "onnxruntime", "onnxscript", "onnx", "safetensors")


class TorchTrainConfig(SplitConfig):
    """What every network's training shares: epochs, batches, optimiser, early stopping."""

    validation_size: float = Field(
        0.15, ge=0, lt=1, description="share of the training part watched for early stopping"
    )
    epochs: int = Field(20, ge=1, description="most passes over the training part")
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0, description="AdamW step size")
    weight_decay: float = Field(0.0, ge=0, description="AdamW decoupled weight decay")
    patience: int = Field(
        3, ge=1, description="epochs without a better validation loss before stopping"
    )


@dataclass
class History:
    """Per-epoch training and validation loss and accuracy; the epoch whose weights were kept."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int = 0

    def as_series(self) -> dict[str, list[float]]:
        names = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")
        return {name: getattr(self, name) for name in names}


class TorchNetwork:
    """The training-side network: a module in eval mode, run under `inference_mode`."""

    def __init__(
        self,
        module: "torch.nn.Module",
        meta: Mapping[str, Any],
        *,
        input_names: tuple[str, ...],
        history: History | None = None,
        files: Mapping[str, bytes] | None = None,
    ) -> None:
        self.module = module.eval()
        self.meta = meta
        self.files = files or {}
        self.input_names = input_names
        self.history = history or History()

    def run(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        import torch

        device = next(self.module.parameters()).device
        with torch.inference_mode():
            output = self.module(
                *(torch.from_numpy(inputs[n]).to(device) for n in self.input_names)
            )
        return np.asarray(output.float().cpu().numpy())


def device() -> "torch.device":
    """CUDA when present, else the CPU: chosen when training starts, never stored."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_torch(seed: int) -> None:
    import torch

    torch.manual_seed(seed)  # also seeds every CUDA device


def split_inputs(inputs: Inputs, y: np.ndarray, config: SplitConfig) -> Holdout[Inputs]:
    """`holdout` over named input arrays: the rows are split once, every input alike."""
    parts = holdout(np.arange(len(y)), y, config)
    val = None if parts.X_val is None else take(inputs, parts.X_val)
    return Holdout(take(inputs, parts.X_train), take(inputs, parts.X_test), parts.y_train,
                   parts.y_test, val, parts.y_val)  # fmt: skip


def fit_network(
    module: "torch.nn.Module",
    data: Holdout[Inputs],
    config: TorchTrainConfig,
    run: TrainingRun,
    *,
    input_names: tuple[str, ...],
    label: str = "",
    loss: Callable[..., "torch.Tensor"] | None = None,
) -> History:
    """AdamW over the trainable parameters with early stopping on validation loss.

    Reports per-epoch progress, keeps each epoch's losses and accuracies for the learning
    curves, and leaves the module holding the weights of its best validation epoch.
    """
    import torch

    run.record_library(*LIBRARIES)
    target = device()
    module.to(target)
    loss = loss or torch.nn.functional.cross_entropy
    trainable = [p for p in module.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        trainable, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    X_val, y_val = data.validation
    generator = torch.Generator().manual_seed(config.random_state)
    history, best_loss, best_state, waited = History(), float("inf"), None, 0
    # The training curve is measured on a fixed sample: scoring every training row each
    # epoch would cost as much as the epoch itself, for a curve as smooth at 2,048 rows.
    sample_rows = np.sort(np.random.default_rng(config.random_state).permutation(
        len(data.y_train))[:TRAIN_CURVE_ROWS])  # fmt: skip
    train_sample = take(data.X_train, sample_rows)

    def tensors(inputs: Inputs, index: Any) -> list[torch.Tensor]:
        return [torch.from_numpy(inputs[n][index]).to(target) for n in input_names]

    def evaluate(inputs: Inputs, y: np.ndarray) -> tuple[float, float]:
        module.eval()
        total, correct = 0.0, 0
        with torch.inference_mode():
            for start in range(0, len(y), 256):
                index = slice(start, start + 256)
                logits = module(*tensors(inputs, index))
                labels = torch.from_numpy(y[index]).to(target)
                total += float(loss(logits, labels, reduction="sum"))
                correct += int((logits.argmax(dim=-1) == labels).sum())
        return total / len(y), correct / len(y)

    for epoch in range(1, config.epochs + 1):
        module.train()
        order = torch.randperm(len(data.y_train), generator=generator).numpy()
        for start in range(0, len(order), config.batch_size):
            index = order[start : start + config.batch_size]
            optimiser.zero_grad()
            batch_loss = loss(
                module(*tensors(data.X_train, index)),
                torch.from_numpy(data.y_train[index]).to(target),
            )
            batch_loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        train_loss, train_accuracy = evaluate(train_sample, data.y_train[sample_rows])
        val_loss, val_accuracy = evaluate(X_val, y_val)
        for series, value in zip(
            (history.train_loss, history.train_accuracy, history.val_loss, history.val_accuracy),
            (train_loss, train_accuracy, val_loss, val_accuracy), strict=True,
        ):  # fmt: skip
            series.append(round(value, 5))
        run.step(f"{label}epoch {epoch}/{config.epochs} · val acc {val_accuracy:.3f}", epoch,
                 config.epochs)  # fmt: skip
        if val_loss < best_loss - 1e-4:
            best_loss, waited, history.best_epoch = val_loss, 0, epoch
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            waited += 1
            if waited >= config.patience:
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history


def export_onnx(module: "torch.nn.Module", example: Inputs, names: tuple[str, ...],
                dynamic: Mapping[str, Mapping[int, str]]) -> bytes:  # fmt: skip
    """The module as an ONNX graph, batch axis (and any axis in `dynamic`) left free."""
    import torch

    module = module.cpu().eval()
    dims: dict[str, Any] = {}

    def dim(label: str) -> Any:
        return dims.setdefault(label, torch.export.Dim(label, min=1))

    shapes = tuple(
        {0: dim("batch"), **{axis: dim(label) for axis, label in dynamic.get(name, {}).items()}}
        for name in names
    )
    args = tuple(torch.from_numpy(example[name]) for name in names)
    # The exporter narrates each of its passes on stdout and warns about torchvision
    # operators it cannot register; neither concerns these graphs.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    # torch 2.13's exporter swaps in loop-based RNN kernels without clearing the ops'
    # dispatch caches: from a process's second export on, an LSTM would be unrolled over
    # the example's length and the graph would take only that length.
    for op in (torch.ops.aten.lstm, torch.ops.aten.gru):
        for overload in op.overloads():  # type: ignore[no-untyped-call]
            getattr(op, overload)._dispatch_cache.clear()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch's own pytree deprecations
        program = torch.onnx.export(
            module, args, input_names=list(names), output_names=["output"],
            dynamic_shapes=shapes, dynamo=True, verbose=False, optimize=True,
        )  # fmt: skip
    if program is None:  # only the legacy exporter writes straight to a file
        raise RuntimeError("torch.onnx.export returned no program")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / GRAPH_FILE
        program.save(str(path), external_data=False)
        graph = path.read_bytes()
    _check_free_axes(graph, names, dynamic)
    return graph


def _check_free_axes(graph: bytes, names: tuple[str, ...],
                     dynamic: Mapping[str, Mapping[int, str]]) -> None:  # fmt: skip
    """Refuse a graph that fixed an axis meant to vary (the batch, a text's length)."""
    import onnx

    shapes = {
        i.name: i.type.tensor_type.shape.dim for i in onnx.load_from_string(graph).graph.input
    }
    for name in names:
        for axis in (0, *dynamic.get(name, {})):
            if not shapes[name][axis].dim_param:
                raise RuntimeError(f"the exported graph fixed axis {axis} of {name!r}")


def dump_safetensors(module: "torch.nn.Module") -> bytes:
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    return bytes(save(state))


class TorchSpec(NetworkSpec[InT, OutT, CfgT, Holdout[Inputs]]):
    """A network trained with PyTorch and served by ONNX Runtime.

    A model supplies `build` (the module), `encode`/`decode` (requests to arrays and
    back) and its data; fitting, early stopping, export and storage are done here.
    """

    input_names: ClassVar[tuple[str, ...]]
    """The network's inputs, in the order its `forward` takes them."""
    dynamic_axes: ClassVar[Mapping[str, Mapping[int, str]]] = {}
    """Axes besides the batch that vary between calls: `{"tokens": {1: "length"}}`."""

    @abstractmethod
    def build(self, config: CfgT, meta: Mapping[str, Any]) -> "torch.nn.Module":
        """A fresh module for `config` (weights initialised, pretrained parts loaded)."""

    def fit(self, config: CfgT, data: Holdout[Inputs], run: TrainingRun) -> Any:
        return self.network(config, data, run, meta={})

    def network(
        self, config: CfgT, data: Holdout[Inputs], run: TrainingRun, meta: Mapping[str, Any],
        *, label: str = "",
    ) -> TorchNetwork:  # fmt: skip
        """Seed, build and fit a module: what most models' `fit` is."""
        seed_torch(config.random_state)
        module = self.build(config, meta)
        assert isinstance(config, TorchTrainConfig)
        history = fit_network(module, data, config, run, input_names=self.input_names,
                              label=label)  # fmt: skip
        return TorchNetwork(module, meta, input_names=self.input_names, history=history)

    def save(self, artifact: Any) -> dict[str, bytes]:
        if not isinstance(artifact, TorchNetwork):
            raise TypeError("only a freshly trained TorchNetwork can be saved")
        example = self.encode(artifact, [self.example_input, self.example_input])
        graph = export_onnx(artifact.module, example, self.input_names, self.dynamic_axes)
        return {
            WEIGHTS_FILE: dump_safetensors(artifact.module),
            NETWORK_FILE: dump_json(
                {"meta": dict(artifact.meta), "inputs": list(self.input_names)}
            ),
            GRAPH_FILE: graph,
            **artifact.files,
        }
