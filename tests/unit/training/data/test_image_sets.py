import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.data.image_sets import (
    checksums,
    load_cifar10,
    load_image_set,
    load_pet_photos,
    pack_images,
    read_image_folder,
    unpack_images,
)
from training.run import TrainingRun

CIFAR_LISTING_SHA256 = "5362487e7f8217c874f22072475cb75fce01d2d849676ec772584da7fc3b4ff0"
"""sha256 of the source's SHA256SUMS with `./` dropped, sorted (data/cifar10/PROVENANCE.md)."""
PETS_SHA256SUMS_SHA256 = "7d146d2ff4703475bf420d6eca50722b587029fbeff4f08fc2f2f81398b900f8"


def png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, colour in (("b/2.png", (0, 0, 255)), ("a/1.png", (255, 0, 0)),
                         ("b/1.png", (0, 255, 0))):  # fmt: skip
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(png(colour))
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    return tmp_path


def test_read_image_folder_sorts_classes_and_files_and_skips_non_images(folder: Path) -> None:
    files = read_image_folder(folder)
    assert files.classes == ("a", "b")
    assert files.paths == ("a/1.png", "b/1.png", "b/2.png")
    assert files.labels.tolist() == [0, 1, 1]
    assert files.contents[0] == (folder / "a" / "1.png").read_bytes()


def test_pack_images_is_byte_reproducible_and_gives_back_the_files(folder: Path) -> None:
    files = read_image_folder(folder)
    packed = pack_images(files)
    assert pack_images(read_image_folder(folder)) == packed
    back = unpack_images(packed)
    assert back.contents == files.contents
    assert (back.classes, back.paths) == (files.classes, files.paths)
    assert np.array_equal(back.labels, files.labels)


def test_folder_fingerprint_is_the_sha256sum_listing(folder: Path) -> None:
    run = TrainingRun()
    files = load_image_set(run, "mine", "unused", folder)
    expected = "".join(
        f"{hashlib.sha256((folder / p).read_bytes()).hexdigest()}  {p}\n" for p in files.paths
    )
    assert checksums(files) == expected.encode()
    assert run.dataset_sha256["mine"] == hashlib.sha256(expected.encode()).hexdigest()


def test_bundled_cifar10_holds_the_source_files_byte_for_byte() -> None:
    run = TrainingRun()
    files = load_cifar10(run)
    assert len(files) == 10_000
    assert files.classes[:3] == ("airplane", "automobile", "bird")
    assert np.bincount(files.labels).tolist() == [1_000] * 10
    assert hashlib.sha256(checksums(files)).hexdigest() == CIFAR_LISTING_SHA256
    packed = Path(__file__).resolve().parents[4] / "data" / "cifar10" / "cifar10_test.npz"
    assert run.dataset_sha256["cifar10_test"] == hashlib.sha256(packed.read_bytes()).hexdigest()


def test_bundled_pet_photos_fingerprint_equals_their_sha256sums() -> None:
    run = TrainingRun()
    files = load_pet_photos(run)
    assert files.classes == ("cat", "dog")
    assert np.bincount(files.labels).tolist() == [120, 120]
    assert run.dataset_sha256["oxford_pets"] == PETS_SHA256SUMS_SHA256


def test_load_pet_photos_refuses_other_class_folders(folder: Path) -> None:
    with pytest.raises(ValueError, match="cat/ and dog/"):
        load_pet_photos(TrainingRun(), folder)


def test_load_image_set_names_a_missing_dataset(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="PRACTICA_DATA_DIR"):
        load_image_set(TrainingRun(), "gone", "gone.npz", tmp_path / "gone.npz")
