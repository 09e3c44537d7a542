"""ONNX Runtime: how every network is served, without importing PyTorch.

A network version stores `model.onnx` (the graph and its weights), `network.json` (what
the model's code needs around the graph: class names, vocabulary, preprocessing
constants) and any extra files (a tokenizer). `OnnxNetwork` runs it; its training-side
twin `training.frameworks.torch.TorchNetwork` runs the PyTorch module behind the same
interface, so `predict` is written once and a parity test compares the two.
"""

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np

from model_registry.errors import ArtifactIntegrityError
from model_registry.flavors import load_json
from training.spec import CfgT, DataT, InT, LoadContext, ModelSpec, OutT

GRAPH_FILE = "model.onnx"
NETWORK_FILE = "network.json"


class Network(Protocol):
    """A trained network, run on NumPy arrays: ONNX Runtime when serving, PyTorch in training."""

    meta: Mapping[str, Any]
    files: Mapping[str, bytes]

    def run(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The network's first output (logits, scores) for a batch of named inputs."""
        ...


class OnnxNetwork:
    """An ONNX Runtime session with the network's metadata and extra files."""

    def __init__(self, session: Any, meta: Mapping[str, Any], files: Mapping[str, bytes]) -> None:
        self.session = session
        self.meta = meta
        self.files = files
        self.input_names = [i.name for i in session.get_inputs()]

    def run(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        feeds = {name: inputs[name] for name in self.input_names}
        outputs = self.session.run(None, feeds)
        return np.asarray(outputs[0])


def open_session(graph: bytes, context: LoadContext) -> Any:
    """An inference session with a deliberate thread count.

    ONNX Runtime defaults to one intra-op thread per core; several models on a server then
    fight over the same cores. The server grants each call `context.threads` threads, and
    batching (not threads) is how throughput grows. The inter-op pool stays at one thread:
    these graphs are sequential.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = context.threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = ["CPUExecutionProvider"]
    if (
        context.device == "cuda"
        and "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    ):
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return onnxruntime.InferenceSession(graph, sess_options=options, providers=providers)
    except Exception as error:  # ONNX Runtime raises its own untyped errors for bad graphs
        raise ArtifactIntegrityError(f"{GRAPH_FILE} is not a valid ONNX graph: {error}") from None


def load_network(files: Mapping[str, bytes], context: LoadContext) -> OnnxNetwork:
    """The served network of a version: its graph, metadata and extra files."""
    extras = {k: v for k, v in files.items() if k not in (GRAPH_FILE, NETWORK_FILE)}
    stored = load_json(files[NETWORK_FILE])
    return OnnxNetwork(open_session(files[GRAPH_FILE], context), stored["meta"], extras)


Inputs = dict[str, np.ndarray]
"""A batch as the network takes it: arrays by input name, batch on axis 0."""


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=-1, keepdims=True))


def take(inputs: Inputs, index: Any) -> Inputs:
    """Rows `index` of every input."""
    return {name: array[index] for name, array in inputs.items()}


class NetworkSpec(ModelSpec[InT, OutT, CfgT, DataT, Network]):
    """A servable network: requests become input arrays, the output becomes predictions.

    `predict` is `decode(run(encode(batch)))`; the server's micro-batcher may encode
    several requests' instances together, so `encode` must treat rows independently.
    """

    flavor: ClassVar[str] = "onnx"

    @abstractmethod
    def encode(self, network: Network, batch: Sequence[InT]) -> Inputs:
        """Validated instances as the network's input arrays."""

    @abstractmethod
    def decode(self, network: Network, outputs: np.ndarray) -> list[OutT]:
        """One prediction per row of the network's output."""

    def predict(self, artifact: Network, batch: Sequence[InT]) -> list[OutT]:
        return self.decode(artifact, artifact.run(self.encode(artifact, batch)))

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> Network:
        return load_network(files, context)
