import base64
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from tests.networks import Smoke, smoke_fixture
from training.data.image_sets import load_pet_photos
from training.models._images import probability_rows
from training.models.cat_dog import PREPROCESSING, CatDog, backbone_features, set_head
from training.run import TrainingRun

trained = smoke_fixture(CatDog())


def test_onnx_graph_of_the_whole_network_matches_pytorch(trained: Smoke[CatDog]) -> None:
    data, network, served = trained.data, trained.network, trained.served
    torch_p = probability_rows(network.run(data.X_test))
    onnx_p = probability_rows(served.run(data.X_test))
    assert np.array_equal(torch_p.argmax(1), onnx_p.argmax(1))
    assert np.abs(torch_p - onnx_p).max() < 1e-4


def test_set_head_gives_the_logistic_regression_probabilities() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 5))
    labels = (features[:, 0] + 0.3 * rng.normal(size=60) > 0).astype(np.int64)
    fitted = LogisticRegression().fit(features, labels)
    head = torch.nn.Linear(5, 2)
    module = torch.nn.Module()
    module.add_module("_fc", head)
    set_head(module, fitted)
    logits = head(torch.from_numpy(features).float()).detach().numpy()
    assert np.abs(probability_rows(logits) - fitted.predict_proba(features)).max() < 1e-5


def test_backbone_features_are_the_pooled_features_and_leave_the_module_as_it_was(
    trained: Smoke[CatDog],
) -> None:
    data, network = trained.data, trained.network
    module: Any = network.module  # the package's EfficientNet: attributes are untyped
    images = data.X_test["image"][:3]
    head = module._fc
    features = backbone_features(module, images, 2, TrainingRun())
    assert features.shape == (3, 1280)
    assert module._fc is head
    with torch.inference_mode():
        x = torch.from_numpy(images)
        pooled = module._avg_pooling(module.extract_features(x)).flatten(1).numpy()
        assert module._conv_stem.weight.is_contiguous()
        logits = module(x).numpy()
    assert np.abs(features - pooled).max() < 1e-4
    assert np.abs(logits - (pooled @ head.weight.numpy().T + head.bias.numpy())).max() < 1e-4


def test_only_the_head_is_new_and_the_backbone_is_frozen(trained: Smoke[CatDog]) -> None:
    spec, config = trained.spec, trained.config
    module = spec.build(config, {})
    assert not any(p.requires_grad for p in module.parameters())
    head = module.get_submodule("_fc")
    assert isinstance(head, torch.nn.Linear)
    assert head.out_features == 2
    assert module(torch.zeros(1, 3, 224, 224)).shape == (1, 2)


def test_evaluate_reports_cv_and_held_out_accuracy_and_the_mistakes(trained: Smoke[CatDog]) -> None:
    spec, config, data, network = trained.spec, trained.config, trained.data, trained.network
    run = TrainingRun()
    metrics = spec.evaluate(network, data, config, run)
    assert {"cv_accuracy", "test_accuracy", "test_roc_auc"} <= set(metrics)
    assert 0 <= metrics["cv_accuracy"] <= 1
    assert {"mistakes", "confusion_matrix", "roc_curve"} <= set(run.plots)
    assert list(run.tables["cross_validation"]) == [f"C={c}" for c in config.c_grid]


def test_decode_gives_the_label_and_named_probabilities(trained: Smoke[CatDog]) -> None:
    spec, served = trained.spec, trained.served
    cat, dog = spec.decode(served, np.array([[2.0, -1.0], [0.0, 3.0]], dtype=np.float32))
    assert (cat.label, dog.label) == ("cat", "dog")
    assert cat.probabilities.cat == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert dog.probabilities.cat + dog.probabilities.dog == pytest.approx(1.0)


def test_encode_prepares_a_request_like_the_training_photos(trained: Smoke[CatDog]) -> None:
    spec, data, served = trained.spec, trained.data, trained.served
    files = load_pet_photos(TrainingRun())
    path = str(data.X_test["path"][0])
    content = files.contents[files.paths.index(path)]
    request = type(spec.example_input)(image_base64=base64.b64encode(content).decode())
    inputs = spec.encode(served, [request, spec.example_input])
    assert inputs["image"].shape == (2, 3, 224, 224)
    assert inputs["image"].dtype == np.float32
    assert np.array_equal(inputs["image"][0], data.X_test["image"][0])
    assert PREPROCESSING.size == 224
