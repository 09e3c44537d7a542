import numpy as np
import pytest
from pydantic import ValidationError

from training.algorithms.backprop import (
    TwoLayerNet,
    forward,
    gradient_check,
    init_network,
    loss_and_gradients,
    numerical_gradients,
    relative_errors,
    train,
)
from training.models.xor_net import XorFeatures, XorNet, XorNetTrainConfig, XorNetwork
from training.run import TrainingRun
from training.spec import LoadContext

X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y_XOR = np.array([0, 1, 1, 0], dtype=np.float64)


def random_net(seed: int, n_inputs: int = 2, n_hidden: int = 4, scale: float = 1.0) -> TwoLayerNet:
    """Random weights and biases (biases non-zero, unlike a fresh network's)."""
    rng = np.random.default_rng(seed)
    return TwoLayerNet(
        w1=rng.normal(0, scale, (n_inputs, n_hidden)),
        b1=rng.normal(0, scale, n_hidden),
        w2=rng.normal(0, scale, n_hidden),
        b2=np.asarray(rng.normal(0, scale)),
    )


@pytest.mark.parametrize("seed", range(5))
def test_backward_matches_central_differences_on_random_weights(seed: int) -> None:
    errors = gradient_check(random_net(seed), X_XOR, Y_XOR)
    assert set(errors) == {"w1", "b1", "w2", "b2"}
    assert max(errors.values()) <= 1e-5


def test_backward_matches_central_differences_on_other_shapes() -> None:
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(9, 3)), rng.integers(0, 2, 9).astype(np.float64)
    net = random_net(8, n_inputs=3, n_hidden=5, scale=0.5)
    _, analytic = loss_and_gradients(net, X, y)
    numerical = numerical_gradients(net, X, y)
    for name, gradient in analytic.items():
        assert gradient.shape == getattr(net, name).shape
        np.testing.assert_allclose(gradient, numerical[name], rtol=1e-5, atol=1e-9)
    assert max(relative_errors(analytic, numerical).values()) <= 1e-5


def test_gradient_check_catches_a_wrong_backward_pass() -> None:
    net = random_net(0)
    _, analytic = loss_and_gradients(net, X_XOR, Y_XOR)
    analytic["w1"] = analytic["w1"] * 1.01  # a 1% mistake in one layer
    errors = relative_errors(analytic, numerical_gradients(net, X_XOR, Y_XOR))
    assert errors["w1"] > 1e-3
    assert errors["w2"] <= 1e-5


def test_forward_is_finite_for_extreme_weights() -> None:
    net = random_net(1, scale=1e4)
    probability = forward(net, X_XOR).probability
    assert np.isfinite(probability).all()
    assert ((probability >= 0) & (probability <= 1)).all()


@pytest.mark.parametrize("seed", range(5))
def test_training_learns_xor_for_several_seeds(seed: int) -> None:
    start = init_network(2, 4, np.random.default_rng(seed))
    net, losses = train(start, X_XOR, Y_XOR, learning_rate=1.0, epochs=2000)
    assert losses.shape == (2000,)
    assert losses[-1] < 0.01 < losses[0]
    assert np.all(np.diff(losses[200:]) <= 1e-12), "the loss keeps falling once past the plateau"
    assert ((net.predict_proba(X_XOR) >= 0.5) == Y_XOR).all()


def test_spec_trains_to_full_accuracy_and_predicts_all_four_inputs() -> None:
    spec = XorNet()
    config = spec.config("full")
    run = TrainingRun()
    data = spec.load_data(config, run)
    network = spec.fit(config, data, run)
    metrics = spec.evaluate(network, data, config, run)
    assert metrics["train_accuracy"] == 1.0
    assert metrics["max_rel_error"] <= 1e-5
    assert run.dataset_sha256
    assert run.plots
    assert run.notes
    assert all(floor.holds(metrics) for floor in spec.floors)

    loaded = spec.load(spec.save(network), LoadContext())
    assert isinstance(loaded, XorNetwork)
    np.testing.assert_array_equal(loaded.loss_curve, network.loss_curve)
    inputs = [XorFeatures(a=a, b=b) for a in (0, 1) for b in (0, 1)]
    predictions = spec.predict(loaded, inputs)
    assert [p.output for p in predictions] == [0, 1, 1, 0]
    for p in predictions:
        assert 0 <= p.probability <= 1
        assert abs(p.probability - p.output) < 0.05, "confident on every input"


def test_training_is_reproducible() -> None:
    spec = XorNet()
    config = XorNetTrainConfig(epochs=300)
    data = spec.load_data(config, TrainingRun())
    first, second = (spec.fit(config, data, TrainingRun()) for _ in range(2))
    np.testing.assert_array_equal(first.w1, second.w1)
    np.testing.assert_array_equal(first.loss_curve, second.loss_curve)


@pytest.mark.parametrize("bits", [{"a": 2, "b": 0}, {"a": -1, "b": 0}, {"a": 1.5, "b": 0},
                                  {"a": "1", "b": 0}, {"a": True, "b": 0}, {"a": 1}])  # fmt: skip
def test_inputs_must_be_the_integers_0_or_1(bits: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        XorFeatures.model_validate(bits)


def test_inputs_accept_json_integers_not_booleans_or_strings() -> None:
    assert XorFeatures.model_validate_json('{"a": 1, "b": 0}') == XorFeatures(a=1, b=0)
    # JSON Schema, which the OpenAPI document speaks, counts 1.0 as an integer.
    assert XorFeatures.model_validate_json('{"a": 1.0, "b": 0}') == XorFeatures(a=1, b=0)
    for refused in ('{"a": true, "b": 0}', '{"a": "1", "b": 0}', '{"a": 0.5, "b": 0}'):
        with pytest.raises(ValidationError):
            XorFeatures.model_validate_json(refused)
