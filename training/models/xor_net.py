"""Module 16: backpropagation from scratch, a two-layer NumPy network learning XOR."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from training.algorithms.backprop import TwoLayerNet, gradient_check, init_network, train
from training.frameworks.numpy import NumpySpec
from training.report.figures import subplots
from training.run import TrainingRun
from training.spec import Floor, HeldOut, Schema, TrainConfig

TRUTH_TABLE = "a,b,output\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"
TruthTable = tuple[np.ndarray, np.ndarray]  # X (4, 2): every possible input; y (4,)


Bit = Annotated[int, Field(ge=0, le=1, description="0 or 1")]


class XorFeatures(Schema):
    a: Bit
    b: Bit


class XorPrediction(Schema):
    output: int = Field(ge=0, le=1, description="a XOR b as the network computes it")
    probability: float = Field(ge=0, le=1, description="the network's probability that it is 1")


class XorNetTrainConfig(TrainConfig):
    hidden_units: int = Field(4, ge=2, le=64, description="tanh units; 2 can stall (saddle)")
    learning_rate: float = Field(1.0, gt=0, le=10, description="full-batch gradient step")
    epochs: int = Field(2000, ge=1, le=100_000, description="updates, one per pass over 4 rows")
    epsilon: float = Field(1e-5, gt=0, le=1e-2, description="gradient check's central step")


@dataclass(frozen=True, eq=False)
class XorNetwork(TwoLayerNet):
    loss_curve: np.ndarray  # training loss before each update


class XorNet(NumpySpec[XorFeatures, XorPrediction, XorNetTrainConfig, TruthTable, XorNetwork]):
    name, module, kind = "xor-net", 16, "classifier"
    title = "Backpropagation from scratch on XOR (NumPy)"
    example_input = XorFeatures(a=1, b=0)
    floors = (Floor("train_accuracy", minimum=1.0), Floor("max_rel_error", maximum=1e-5))

    def smoke_config(self) -> XorNetTrainConfig:
        return XorNetTrainConfig(epochs=500)

    def load_data(self, config: XorNetTrainConfig, run: TrainingRun) -> TruthTable:
        run.record_dataset("xor_truth_table", TRUTH_TABLE.encode())
        rows = np.loadtxt(TRUTH_TABLE.splitlines()[1:], delimiter=",")
        return rows[:, :2], rows[:, 2]

    def _initial(self, config: XorNetTrainConfig) -> TwoLayerNet:
        return init_network(2, config.hidden_units, np.random.default_rng(config.random_state))

    def fit(self, config: XorNetTrainConfig, data: TruthTable, run: TrainingRun) -> XorNetwork:
        run.step(f"{config.epochs} epochs of hand-written backpropagation")
        net, losses = train(self._initial(config), *data, config.learning_rate, config.epochs)
        return XorNetwork(**net.parameters(), loss_curve=losses)

    def evaluate(
        self, artifact: XorNetwork, data: TruthTable, config: XorNetTrainConfig, run: TrainingRun
    ) -> dict[str, float]:
        X, y = data
        initial = max(gradient_check(self._initial(config), X, y, config.epsilon).values())
        trained = max(gradient_check(artifact, X, y, config.epsilon).values())
        probability = artifact.predict_proba(X)
        run.add_table("truth_table", {"X": X.tolist(), "y": y.tolist(), "p": probability.tolist()})
        run.note(
            "XOR has four possible inputs and the network trains on all of them, so no data is "
            "held out: train_accuracy, on the truth table itself, is the whole test. Hand-written "
            f"gradients match central differences (ε = {config.epsilon:g}) to {initial:.1e} at "
            f"the initial weights and {trained:.1e} at the trained ones."
        )
        _plot(run, artifact, X, y)
        return {
            "train_accuracy": float(((probability >= 0.5) == y).mean()),
            "max_rel_error": max(initial, trained),
            "max_rel_error_initial": initial,
            "final_loss": float(artifact.loss_curve[-1]),
        }

    def held_out(self, config: XorNetTrainConfig, run: TrainingRun) -> HeldOut:
        # Nothing is held out: train_accuracy is measured on the whole truth table.
        X, y = self.load_data(config, run)

        def score(answers: list[dict[str, Any]]) -> dict[str, float]:
            outputs = np.array([answer["output"] for answer in answers])
            return {"train_accuracy": float((outputs == y).mean())}

        return HeldOut([{"a": int(a), "b": int(b)} for a, b in X], score)

    def predict(self, artifact: XorNetwork, batch: Sequence[XorFeatures]) -> list[XorPrediction]:
        X = np.array([[bits.a, bits.b] for bits in batch], dtype=np.float64)
        probability = artifact.predict_proba(X).tolist()
        return [XorPrediction(output=int(p >= 0.5), probability=p) for p in probability]


def _plot(run: TrainingRun, network: XorNetwork, X: np.ndarray, y: np.ndarray) -> None:
    figure, (loss, surface) = subplots(1, 2, figsize=(11, 4.4))
    loss.semilogy(np.arange(1, len(network.loss_curve) + 1), network.loss_curve)
    loss.set(xlabel="epoch", ylabel="cross-entropy (log scale)", title="Training loss")
    a, b = np.meshgrid(np.linspace(0, 1, 101), np.linspace(0, 1, 101))
    p = network.predict_proba(np.column_stack([a.ravel(), b.ravel()])).reshape(a.shape)
    filled = surface.contourf(a, b, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r")
    surface.contour(a, b, p, levels=[0.5], colors="k")
    surface.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", vmin=0, vmax=1, s=150,
                    edgecolors="k", linewidths=2, clip_on=False, zorder=3)  # fmt: skip
    surface.set(xlabel="a", ylabel="b")
    surface.set_title("Learned p(output = 1) on [0, 1]²; black: p = 0.5", pad=14)
    figure.colorbar(filled, ax=surface)
    run.add_plot("loss_and_decision_surface", figure)
