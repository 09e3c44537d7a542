"""What the image models share: preprocessing, the split and its held-out part as requests,
the example photos and the thumbnail grid.

Training and serving preprocess alike: the same `decode_image` (EXIF rotation, RGB, safe
limits) and the same `Preprocessing`, whose constants travel with each version in
`network.json`, so a request's pixels are prepared exactly as the training images were.
"""

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from training.data.image_sets import ImageFiles
from training.data.images import decode_image, to_array
from training.data.splits import Holdout, SplitConfig
from training.frameworks.onnx import Inputs, Network
from training.frameworks.torch import split_inputs
from training.report.figures import subplots
from training.run import TrainingRun
from training.schemas import ImageInput
from training.spec import HeldOut

if TYPE_CHECKING:
    import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """An image to a network input: centre crop, resize, scale to [0, 1], standardise.

    `crop_fraction` is the share of the shorter side kept: 0.875 reproduces ImageNet's
    resize-to-256-then-crop-224; 1.0 keeps the largest centred square.
    """

    size: int
    crop_fraction: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> "Preprocessing":
        stored = meta["preprocessing"]
        return cls(int(stored["size"]), float(stored["crop_fraction"]),
                   tuple(stored["mean"]), tuple(stored["std"]))  # fmt: skip

    def as_meta(self) -> dict[str, Any]:
        return {"preprocessing": asdict(self)}

    @property
    def draft_size(self) -> tuple[int, int]:
        """The least size a JPEG may be decoded at (libjpeg's 1/2, 1/4, 1/8 scaling)."""
        side = math.ceil(self.size / self.crop_fraction)
        return side, side

    def pixels(self, content: bytes) -> np.ndarray:
        """An image file as uint8 pixels, size x size x 3."""
        image = decode_image(content, draft_size=self.draft_size)
        return self.crop(image)

    def crop(self, image: Any) -> np.ndarray:
        return to_array(image, (self.size, self.size), resize="center_crop",
                        crop_fraction=self.crop_fraction)  # fmt: skip

    def instances(self, batch: Sequence[ImageInput]) -> np.ndarray:
        """Validated requests as uint8 pixels, N x size x size x 3."""
        return np.stack([self.crop(item.image(draft_size=self.draft_size)) for item in batch])

    def normalise(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 N x H x W x 3 to the network's float32 N x 3 x H x W."""
        scaled = pixels.astype(np.float32) / np.float32(255.0)
        mean = np.array(self.mean, dtype=np.float32)
        std = np.array(self.std, dtype=np.float32)
        return np.ascontiguousarray(((scaled - mean) / std).transpose(0, 3, 1, 2))

    def thumbnails(self, inputs: np.ndarray) -> np.ndarray:
        """Network inputs back to uint8 pixels, for the report."""
        std, mean = np.array(self.std, np.float32), np.array(self.mean, np.float32)
        scaled = inputs.transpose(0, 2, 3, 1) * std + mean
        return np.asarray(np.clip(scaled * 255.0 + 0.5, 0, 255), dtype=np.uint8)


def image_inputs(network: Network, batch: Sequence[ImageInput]) -> Inputs:
    """A network's `image` input for validated requests, prepared as its `network.json` says."""
    prep = Preprocessing.from_meta(network.meta)
    return {"image": prep.normalise(prep.instances(batch))}


def probability_rows(logits: np.ndarray) -> np.ndarray:
    """Softmax in float64, clipped into [0, 1] (the schemas' bounds)."""
    shifted = np.exp(logits.astype(np.float64) - logits.max(axis=-1, keepdims=True))
    return np.asarray(np.clip(shifted / shifted.sum(axis=-1, keepdims=True), 0.0, 1.0))


def plot_thumbnails(
    run: TrainingRun, name: str, images: np.ndarray, captions: Sequence[str], title: str,
    *, columns: int = 6,
) -> None:  # fmt: skip
    """A grid of images (uint8 N x H x W x 3) with a caption under each."""
    count = max(len(images), 1)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    figure, grid = subplots(rows, columns, figsize=(2.1 * columns, 2.4 * rows + 0.4),
                            squeeze=False)  # fmt: skip
    for index, axes in enumerate(grid.flat):
        axes.axis("off")
        if index < len(images):
            axes.imshow(images[index])
            axes.set_title(captions[index], fontsize=7)
    if not len(images):
        grid[0][0].text(0.5, 0.5, "none", ha="center", va="center")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    run.add_plot(name, figure)


def split_images(files: ImageFiles, prep: Preprocessing, config: SplitConfig) -> Holdout[Inputs]:
    """Split the files by index, then decode only the images kept (a smoke sample is quick).

    Each part holds `image` (the network's input), and the file's `index` in `files` and
    `path` (for the report's captions).
    """
    parts = split_files(files, config)

    def inputs(part: Inputs | None) -> Inputs | None:
        if part is None:
            return None
        pixels = np.stack([prep.pixels(files.contents[i]) for i in part["index"]])
        paths = np.array(files.paths)[part["index"]]
        return {"image": prep.normalise(pixels), "index": part["index"], "path": paths}

    train, test = inputs(parts.X_train), inputs(parts.X_test)
    assert train is not None
    assert test is not None
    return Holdout(train, test, parts.y_train, parts.y_test, inputs(parts.X_val), parts.y_val)


def split_files(files: ImageFiles, config: SplitConfig) -> Holdout[Inputs]:
    """The files' indices (`index`) split into training, held-out and validation parts."""
    return split_inputs({"index": np.arange(len(files))}, files.labels, config)


def held_out_images(files: ImageFiles, config: SplitConfig, metrics: Sequence[str]) -> HeldOut:
    """The files `split_images` holds out, as posted (each file's own bytes in base64),
    scored by the accuracy of the answers' labels under each key of `metrics`."""
    from sklearn.metrics import accuracy_score

    parts = split_files(files, config)
    instances = [
        {"image_base64": base64.b64encode(files.contents[i]).decode("ascii")}
        for i in parts.X_test["index"]
    ]

    def score(answers: list[dict[str, Any]]) -> dict[str, float]:
        predicted = [files.classes.index(answer["label"]) for answer in answers]
        return dict.fromkeys(metrics, float(accuracy_score(parts.y_test, predicted)))

    return HeldOut(instances, score)


def small_cnn(
    widths: Sequence[int], n_classes: int, *, dropout: float, augment: bool
) -> "torch.nn.Module":
    """Three conv blocks (3x3 conv, 2x2 max-pool, batch norm, ReLU) and a linear classifier.

    Pooling comes right after each convolution: batch norm and ReLU then touch a quarter
    of the values, which on a CPU is a quarter of their (memory-bound) cost. Dropout
    follows the second and third blocks (half rate after the second).
    """
    from torch import nn

    layers: list[nn.Module] = [random_shift_flip(4)] if augment else []
    channels = 3
    for block, width in enumerate(widths):
        layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.MaxPool2d(2),
                   nn.BatchNorm2d(width), nn.ReLU()]  # fmt: skip
        if dropout and block == len(widths) - 2:
            layers.append(nn.Dropout(dropout / 2))
        channels = width
    side = 32 // 2 ** len(widths)
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * side * side, n_classes)]
    return nn.Sequential(*layers)


def random_shift_flip(padding: int) -> "torch.nn.Module":
    """Training-only augmentation: mirror half the images, shift each by up to `padding` px.

    A layer rather than a data loader step, so the shared training loop needs no hook; in
    eval mode (evaluation, export to ONNX, serving) it is the identity and leaves no trace
    in the graph. Its randomness comes from torch's seeded generator.
    """
    import torch
    from torch import nn

    class RandomShiftFlip(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.training:
                return x
            (n, c, h, w), at = x.shape, x.device
            x = torch.where(torch.rand(n, 1, 1, 1, device=at) < 0.5, x.flip(3), x)
            padded = nn.functional.pad(x, (padding,) * 4)
            dy, dx = torch.randint(0, 2 * padding + 1, (2, n), device=at)
            rows = (dy[:, None] + torch.arange(h, device=at))[:, None, :, None]
            cols = (dx[:, None] + torch.arange(w, device=at))[:, None, None, :]
            return padded[torch.arange(n, device=at)[:, None, None, None],
                          torch.arange(c, device=at)[None, :, None, None], rows, cols]  # fmt: skip

    return RandomShiftFlip()


EXAMPLE_CIFAR_SHIP = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKD"
    "cpLDAxNDQ0Hyc5PTgyPC4zNDL/2wBDAQkJCQwLDBgNDRgyIRwhMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIy"
    "MjIyMjIyMjIyMjIyMjIyMjL/wAARCAAgACADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8"
    "QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0"
    "NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7"
    "i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcI"
    "CQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGR"
    "omJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmq"
    "srO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwD0KxWNdUuVwMhFPT"
    "6/4VufaEtyXIyAq5AGT/nmvD4rvVuomu5JmC8oDgfWuijfWxHuE90/y5w2BzW7jUkzFSpxR3Vx4v0yzvbW3e9to42DGVnc"
    "ApjoDzxW7FfW0wSSKRHRiWVlOQwxxivGodDknvYxqD+XG5JfDLlhS69dro0cdvazyq6OTHsyP3ZGOg44II+hrKas7I0g7q"
    "7G2ky28f2qW6zHjcvO1QD6jqavrrMctlJcLJJMqdUiG38K8tXxHqLReTuUR4xgIP60r6xNs/ey/L6M2R+XSumVRPY5uR9T"
    "0ePW9PMCXE0QSVdwCH5mA+tYWoeNljkYoiGLGGU8lx6VxtzqJeGJhKXDru9hz2FZd1dAI0shyScAeprFpPU1i2f/2Q=="
)
"""CIFAR-10 test image ship/0001.jpg (32x32 JPEG, byte for byte): cifar10-cnn's OpenAPI example."""

EXAMPLE_PET_PHOTO = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQaFRERGC"
    "EYGh0dHx8fExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4e"
    "Hh4eHh4eHh4eHh4eHh4eHh7/wAARCABgAEADASIAAhEBAxEB/8QAHAAAAwADAQEBAAAAAAAAAAAABAUGAQMHAgAI/8QANh"
    "AAAgEDAwMCAwcCBgMAAAAAAQIDAAQRBRIhBjFBBxMiUWEUFTJxgZGxI6EIF0JiwdFD0vH/xAAZAQACAwEAAAAAAAAAAAAA"
    "AAACAwABBAX/xAAmEQACAwABAgUFAQAAAAAAAAAAAQIDETEEEiEiQWHwQ1GBkaGx/9oADAMBAAIRAxEAPwCz6xvFkKwQlt"
    "ygF8dw5GD3qbjWdlX+o20HHPNO+qo8awntry8aFsn/AG96zawJGhWQA5rnpYa5MVx2zxjIbP1wKPtUhAHvwe6POMA/vRjQ"
    "xhCqjuOKxAuI2XAomtF6zWv2ZJd0WnhgMbd75xXsw3LozJFGpY8fCPh/KvVqTuxjzTq3RfaGcGlyQcWKozb+7EJ7RQNuHC"
    "yEZPzB8c+KsulIbA2wngwsh+HhyefqDUbrilD/AE++cit/SU0sV1HvJAZwBjyc1IotsT6rP7mrFmzwFH9qKiIlZRS/WhjV"
    "nKMSrdxjzR+n2sjw7gTkc0yK8AZchyW437mJxjit8dqrA4Bz5rTD7hOHppaxkLnxjipgAItogxhSOaJSLCVJerVz1JZ6bp"
    "t50/P7LR3mbjPYrsO3I8jd3H1rH+YdiulCe4tJPte3Bt4mzuYDsM+Mg0yNUpLUgsGmqs288ZxQugyldatg4JX3lz+45qb9"
    "Neodf6qt9Vvdb0+KyijuhFaoikcBctyfxAZUZ+eaq9Mt/a1a2ck595AP3FDKOE9QG6RfvRkPYNin+lptVueKV6tGY9Uy4A"
    "ZgG485o2CcrDtU85oIvUSXIS+PeOMUdZMc7SPFARMrOCxNIOresBp9/HpmlmIzEhZJGP4STjA/7psIObxFJawb1fuLaXT1"
    "spYVuFVgZFJGE+pHy+tcquF6emSW2iLFrZY2XbOyvPnJx2AG3tkE547VS+sbi8tPehkkMrx43Rkqc9uD/wB1xfp7T9QudY"
    "tIRrV2HifKxT7xs+Y7EfqK12NV5DPQdBP0P1F6fpnpaCUo6xsSYw+d2PrnnvmnVuQ2rWYA/wDKv8igeiizdJWJk7hSPPbJ"
    "+dHWhP31ahQc+6vYfUVktfmYp8gnU5VdcwrfhAUc/KsREYrZ1THF98RXETE+8m5lPg9q1qpIH80mPBczOsXQs9LkuFyXAw"
    "oHfd4rhnWD3EG+6N0I5VO4DuS31x8vJ+tdT69vmt9OjgU7S5LZP0/+1wXqh9Svrp0Vt0a8CMgDJz4JravLX7sKpFFqWuDW"
    "tAhukA9oplwyZGc429/nnnH7eU/Qs6zdTw2Bj9yX3UjRmbsWOP18Yrd0rA8cK2hDBJWUgAHg5w3kY7Zp5/h+0D7z9SbzW7"
    "q3PtWUsrRE8fEpKLx/zS3JzyQ/wgmd5lEdlBHaxcRxKFX9K86Yxk1izYNg+8nn/cK+1IBpW2/OhtP3DUrQr3SZWP6MKVP7"
    "syIh9R9S+nLm/NxnUQgAA3WUnH9qGvfWPoyzGySW+3Acj7G4x+4pNPpHUVvcCKWGDdwci4zx3+VEJ05rs2GKWpHyMnP8Vn"
    "V8l9M7k+h6R8WpflEP6nesttf3drDouniW3SPc0k2QTuHbHjFSWi9Y2L3xeWBl91sNGW+BDzyuec/2rs0XR/UErES2Flg9"
    "m94H/ipHqn0l1+61hdQhSwUSKFnX3iCcdmHw/irRX1MpvtcMRku6OuuHdC5S9vjD9FEctrc3zxgIi74SrENISccD8/HerP"
    "091LSOlIdbvtTuiil/tJYAvthdvhOAM9zj9K5X0joZ1S9m0OaRzdxuZIX3lGhZO+COQfP51fjobXS5maa2ml2hRJLKzMQB"
    "gAnFXO5xWKOl1UVWrbLFH/SiuPVLotnLrq5IPYm3k/8AWtEPqp0XBfxSvqzIEdWY/Z5O2ef9NIE6H1lGJmlteeOGYj+KIh"
    "6Jv7idIBJb72IAJUnvxSHbJ81/0e+j6JcXfP0XPVEAiuQ2MPgbvkOK86dLmENmi+vNOu4nWVUIE21uW4yRyBU7C09rEfeb"
    "Y2cBSO9H2+GnJkyqtbrC96xckTJnzSCC7IXk4zzyaOtZLiVf6SbuAeCKpPAMI7Tekr209U7nX0CpYGIsMd3kYYI+ldDjR1"
    "Qvzil1011GoMkZVceeK+XUGVfbJBB+tF3aW3ox2CRPiOaGsmZNTt8cZlUcDORuFZsphLhlO0HjJOBn8zR1hpc738MyhCI5"
    "FY4cZPI7VM0tH//Z"
)
"""Oxford-IIIT Pet photo cat/British_Shorthair_166.jpg shrunk to 64x96 (JPEG): cat-dog's example.

Image from the Oxford-IIIT Pet Dataset (Parkhi, Vedaldi, Zisserman & Jawahar, CVPR 2012),
CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); resized and re-encoded.
"""
