import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from training.data.image_sets import ImageFiles
from training.data.splits import SplitConfig
from training.models._images import (
    EXAMPLE_CIFAR_SHIP,
    EXAMPLE_PET_PHOTO,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocessing,
    plot_thumbnails,
    probability_rows,
    random_shift_flip,
    small_cnn,
    split_images,
)
from training.run import TrainingRun
from training.schemas import ImageInput

PREP = Preprocessing(8, 1.0, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))


def jpeg(size: tuple[int, int], seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def test_preprocessing_survives_the_trip_through_network_json() -> None:
    prep = Preprocessing(224, 0.875, IMAGENET_MEAN, IMAGENET_STD)
    assert Preprocessing.from_meta(prep.as_meta()) == prep
    assert prep.draft_size == (256, 256)


def test_normalise_gives_nchw_float32_and_thumbnails_invert_it() -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    inputs = PREP.normalise(pixels)
    assert inputs.shape == (3, 3, 8, 8)
    assert inputs.dtype == np.float32
    assert inputs[0, 1, 2, 5] == pytest.approx((pixels[0, 2, 5, 1] / 255 - 0.4) / 0.25, abs=1e-6)
    assert np.array_equal(PREP.thumbnails(inputs), pixels)


def test_a_request_is_preprocessed_exactly_like_a_training_file() -> None:
    content = jpeg((20, 12))
    request = ImageInput(image_base64=base64.b64encode(content).decode())
    assert np.array_equal(PREP.instances([request])[0], PREP.pixels(content))
    assert PREP.pixels(content).shape == (8, 8, 3)


def test_probability_rows_are_a_stable_float64_softmax() -> None:
    rows = probability_rows(np.array([[1000.0, 0.0], [0.0, 0.0]], dtype=np.float32))
    assert rows.dtype == np.float64
    assert rows.tolist() == [[1.0, 0.0], [0.5, 0.5]]


def test_random_shift_flip_is_the_identity_in_eval_mode() -> None:
    layer = random_shift_flip(4).eval()
    x = torch.randn(5, 3, 8, 8)
    assert layer(x) is x


def test_random_shift_flip_shifts_each_image_by_at_most_the_padding() -> None:
    torch.manual_seed(0)
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6) + 1
    out = random_shift_flip(2).train()(x)
    for image, source in zip(out, x, strict=True):
        padded = torch.nn.functional.pad(source, (2, 2, 2, 2))
        candidates = [
            view[:, dy : dy + 6, dx : dx + 6]
            for view in (padded, padded.flip(2))
            for dy in range(5)
            for dx in range(5)
        ]
        assert any(torch.equal(image, c) for c in candidates)


def test_small_cnn_has_dropout_only_when_asked() -> None:
    with_dropout = small_cnn((4, 4, 4), 10, dropout=0.4, augment=True)
    without = small_cnn((4, 4, 4), 10, dropout=0.0, augment=False)
    rates = [m.p for m in with_dropout.modules() if isinstance(m, torch.nn.Dropout)]
    assert rates == [0.2, 0.4]
    assert all(m.p == 0 for m in without.modules() if isinstance(m, torch.nn.Dropout))
    assert without(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_split_images_keeps_each_file_with_its_label_and_path() -> None:
    contents = tuple(jpeg((8, 8), seed) for seed in range(40))
    labels = np.arange(40) % 2
    files = ImageFiles(contents, labels, ("even", "odd"), tuple(f"x/{i}.jpg" for i in range(40)))
    data = split_images(files, PREP, SplitConfig(test_size=0.25, validation_size=0.2))
    X_val, y_val = data.validation
    assert len(data.y_train) + len(y_val) + len(data.y_test) == 40
    assert sorted(
        np.concatenate([data.X_train["index"], X_val["index"], data.X_test["index"]])
    ) == list(range(40))
    for part, y in ((data.X_train, data.y_train), (X_val, y_val), (data.X_test, data.y_test)):
        for row, index in enumerate(part["index"]):
            assert y[row] == labels[index]
            assert part["path"][row] == f"x/{index}.jpg"
            expected = PREP.normalise(PREP.pixels(contents[index])[None])[0]
            assert np.array_equal(part["image"][row], expected)


def test_examples_are_valid_images() -> None:
    assert ImageInput(image_base64=EXAMPLE_CIFAR_SHIP).image().size == (32, 32)
    assert ImageInput(image_base64=EXAMPLE_PET_PHOTO).image().size == (64, 96)


def test_plot_thumbnails_draws_a_grid_even_when_empty() -> None:
    run = TrainingRun()
    plot_thumbnails(run, "grid", np.zeros((0, 8, 8, 3), np.uint8), [], "none wrong")
    plot_thumbnails(run, "grid2", np.zeros((7, 8, 8, 3), np.uint8), ["a"] * 7, "seven")
    assert set(run.plots) == {"grid", "grid2"}
