"""Backpropagation from scratch: a two-layer network's forward and backward passes in NumPy.

The network is p(y = 1 | x) = sigmoid(tanh(x·W1 + b1)·w2 + b2), trained on the mean binary
cross-entropy by full-batch gradient descent. `backward` applies the chain rule by hand,
layer by layer, in reverse; `gradient_check` compares it with central differences of the
loss, (L(θ + ε) - L(θ - ε)) / 2ε, one parameter at a time: no autograd anywhere.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

Gradients = dict[str, np.ndarray]
"""One array per parameter, keyed and shaped like the network's fields."""


@dataclass(frozen=True, eq=False)
class TwoLayerNet:
    """Weights of a tanh hidden layer and a sigmoid output unit."""

    w1: np.ndarray  # (n_inputs, n_hidden)
    b1: np.ndarray  # (n_hidden,)
    w2: np.ndarray  # (n_hidden,)
    b2: np.ndarray  # (): the output unit's bias

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ("w1", "b1", "w2", "b2")}

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """p(y = 1) for each row of `X` (n_samples, n_inputs)."""
        return forward(self, X).probability


@dataclass(frozen=True)
class Activations:
    """What the forward pass keeps for the backward pass."""

    X: np.ndarray  # (n, n_inputs)
    hidden: np.ndarray  # (n, n_hidden): tanh(X·W1 + b1)
    logit: np.ndarray  # (n,): hidden·w2 + b2
    probability: np.ndarray  # (n,): sigmoid(logit)


def init_network(n_inputs: int, n_hidden: int, rng: np.random.Generator) -> TwoLayerNet:
    """Glorot-normal weights (variance 2 / (fan_in + fan_out)), zero biases."""
    return TwoLayerNet(
        w1=rng.normal(0.0, np.sqrt(2.0 / (n_inputs + n_hidden)), (n_inputs, n_hidden)),
        b1=np.zeros(n_hidden),
        w2=rng.normal(0.0, np.sqrt(2.0 / (n_hidden + 1)), n_hidden),
        b2=np.zeros(()),
    )


def sigmoid(z: np.ndarray) -> np.ndarray:
    # sigmoid(z) = (1 + tanh(z/2)) / 2: never overflows, unlike 1 / (1 + exp(-z)) for z ≪ 0.
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def forward(net: TwoLayerNet, X: np.ndarray) -> Activations:
    hidden = np.tanh(X @ net.w1 + net.b1)
    logit = hidden @ net.w2 + net.b2
    return Activations(X, hidden, logit, sigmoid(logit))


def cross_entropy(logit: np.ndarray, y: np.ndarray) -> float:
    """Mean binary cross-entropy from logits: log(1 + e^z) - y·z, stable for any z."""
    return float(np.mean(np.logaddexp(0.0, logit) - y * logit))


def backward(net: TwoLayerNet, cache: Activations, y: np.ndarray) -> Gradients:
    """∂L/∂θ for every parameter, by the chain rule from the loss back to the inputs."""
    d_logit = (cache.probability - y) / len(y)  # sigmoid + cross-entropy: ∂L/∂z = (p - y) / n
    d_hidden = np.outer(d_logit, net.w2)
    d_pre = d_hidden * (1.0 - cache.hidden**2)  # tanh'(u) = 1 - tanh(u)²
    return {
        "w1": cache.X.T @ d_pre,
        "b1": d_pre.sum(axis=0),
        "w2": cache.hidden.T @ d_logit,
        "b2": np.asarray(d_logit.sum()),
    }


def loss_and_gradients(net: TwoLayerNet, X: np.ndarray, y: np.ndarray) -> tuple[float, Gradients]:
    cache = forward(net, X)
    return cross_entropy(cache.logit, y), backward(net, cache, y)


def numerical_gradients(
    net: TwoLayerNet, X: np.ndarray, y: np.ndarray, epsilon: float = 1e-5
) -> Gradients:
    """Central differences of the loss, nudging one parameter entry at a time."""
    gradients: Gradients = {}
    for name, value in net.parameters().items():
        gradient = np.zeros_like(value, dtype=np.float64)
        for index in np.ndindex(value.shape):
            losses = []
            for step in (epsilon, -epsilon):
                nudged = np.array(value, dtype=np.float64)  # a copy, even of a 0-d array
                nudged[index] += step
                shifted = dataclasses.replace(net, **{name: nudged})
                losses.append(cross_entropy(forward(shifted, X).logit, y))
            gradient[index] = (losses[0] - losses[1]) / (2.0 * epsilon)
        gradients[name] = gradient
    return gradients


def relative_errors(analytic: Gradients, numerical: Gradients) -> dict[str, float]:
    """‖a - n‖ / max(‖a‖, ‖n‖) per parameter (0 where both are exactly 0).

    Norms, not entries: an entry whose gradient is nearly 0 (say 9e-8) carries the loss's
    rounding error (~1e-16 / ε) in its central difference, so its own ratio measures float
    rounding rather than the backward pass; a wrong formula moves the whole norm.
    """
    errors = {}
    for name, a in analytic.items():
        n = numerical[name]
        scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(n)))
        errors[name] = float(np.linalg.norm(a - n)) / scale if scale > 0 else 0.0
    return errors


def gradient_check(
    net: TwoLayerNet, X: np.ndarray, y: np.ndarray, epsilon: float = 1e-5
) -> dict[str, float]:
    """The backward pass against central differences: max relative error per parameter.

    In float64 a correct backward pass gives about 1e-8 or less; a wrong one, 1e-2 or more.
    """
    _, analytic = loss_and_gradients(net, X, y)
    return relative_errors(analytic, numerical_gradients(net, X, y, epsilon))


def train(
    net: TwoLayerNet, X: np.ndarray, y: np.ndarray, learning_rate: float, epochs: int
) -> tuple[TwoLayerNet, np.ndarray]:
    """Full-batch gradient descent; the network after `epochs` updates and the loss before each."""
    losses = np.empty(epochs)
    for epoch in range(epochs):
        losses[epoch], gradients = loss_and_gradients(net, X, y)
        net = TwoLayerNet(**{
            name: np.asarray(value - learning_rate * gradients[name])  # keeps b2 0-d
            for name, value in net.parameters().items()
        })  # fmt: skip
    return net, losses
