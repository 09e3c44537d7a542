"""Labelled image sets: encoded files by class, read from `data/` or a user's own folder.

A set is kept as the files' bytes (JPEG, PNG...), not as pixels: the models decode them
with the same `training.data.images.decode_image` the server uses on a request, so
training and serving see the same pixels. Two layouts are read:

- a folder of class folders, `<root>/<class>/<file>` (the layout of CIFAR-10's image
  copies and of the pet photos); its fingerprint is the `sha256sum` listing of the files
  read, so it equals the sha256 of a `SHA256SUMS` written the same way;
- a packed `.npz` of such a folder (`scripts/pack_images.py`): the files' bytes
  unchanged, concatenated, with their labels, class names and paths. Ten thousand
  32-pixel JPEGs are one 3 MB file instead of 40 MB of disk blocks.
"""

import hashlib
import io
import itertools
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data.loaders import data_dir, read_dataset
from training.run import TrainingRun

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class ImageFiles:
    """Encoded images with their class: `contents[i]` is of class `classes[labels[i]]`."""

    contents: tuple[bytes, ...]
    labels: np.ndarray
    classes: tuple[str, ...]
    paths: tuple[str, ...]
    """`<class>/<file>` of each image, as its source folder names it."""

    def __len__(self) -> int:
        return len(self.contents)


def read_image_folder(root: Path) -> ImageFiles:
    """Every image under `root/<class>/`, classes and files in sorted order."""
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} not found")
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
    paths = tuple(
        f"{name}/{file.name}"
        for name in classes
        for file in sorted((root / name).iterdir())
        if file.suffix.lower() in IMAGE_SUFFIXES
    )
    if not paths:
        raise FileNotFoundError(f"no images in class folders under {root}")
    return ImageFiles(
        contents=tuple((root / path).read_bytes() for path in paths),
        labels=np.array([classes.index(p.split("/")[0]) for p in paths], dtype=np.int64),
        classes=classes,
        paths=paths,
    )


def checksums(files: ImageFiles) -> bytes:
    """The `sha256sum` listing of the files (`<hex>  <class>/<file>` lines), as bytes."""
    return "".join(
        f"{hashlib.sha256(content).hexdigest()}  {path}\n"
        for content, path in zip(files.contents, files.paths, strict=True)
    ).encode()


def pack_images(files: ImageFiles) -> bytes:
    """A deflated `.npz` of the files whose bytes depend only on the files.

    Members go in a fixed order with a fixed timestamp (NumPy's own `savez` stamps the
    current time), so packing the same folder twice gives the same archive.
    """
    offsets = np.cumsum([0] + [len(c) for c in files.contents], dtype=np.int64)
    arrays = {
        "images": np.frombuffer(b"".join(files.contents), dtype=np.uint8),
        "offsets": offsets,
        "labels": files.labels.astype(np.int64),
        "classes": np.array(files.classes),
        "paths": np.array(files.paths),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def unpack_images(content: bytes) -> ImageFiles:
    """The files of a `pack_images` archive (NumPy arrays only, never pickles)."""
    with np.load(io.BytesIO(content), allow_pickle=False) as archive:
        blob, offsets = archive["images"].tobytes(), archive["offsets"]
        return ImageFiles(
            contents=tuple(blob[a:b] for a, b in itertools.pairwise(offsets)),
            labels=archive["labels"].astype(np.int64),
            classes=tuple(str(c) for c in archive["classes"]),
            paths=tuple(str(p) for p in archive["paths"]),
        )


def load_image_set(
    run: TrainingRun, name: str, relative: str, path: Path | None = None
) -> ImageFiles:
    """A packed `.npz` or a folder of class folders, fingerprinted on the run.

    `relative` is the bundled copy under `data/`; `path` a user's own copy in either layout.
    """
    source = path if path is not None else data_dir() / relative
    if source.is_dir():
        files = read_image_folder(source)
        run.record_dataset(name, checksums(files))
        return files
    return unpack_images(read_dataset(run, name, relative, path))


def load_cifar10(run: TrainingRun, path: Path | None = None) -> ImageFiles:
    """CIFAR-10's 10,000 test images (32x32 JPEGs, 1,000 per class), packed.

    A user's full CIFAR-10 works as a folder `<class>/<image>` or its packed `.npz`.
    """
    return load_image_set(run, "cifar10_test", "cifar10/cifar10_test.npz", path)


def load_pet_photos(run: TrainingRun, path: Path | None = None) -> ImageFiles:
    """Oxford-IIIT Pet photos in `cat/` and `dog/` (120 each), as the files are.

    A user's own photos work as a folder with `cat/` and `dog/` subfolders.
    """
    files = load_image_set(run, "oxford_pets", "oxford_pets", path)
    if files.classes != ("cat", "dog"):
        raise ValueError(f"pet photos need class folders cat/ and dog/, found {files.classes}")
    return files
