"""Each model declares the `data/` folders it reads: its DVC stage depends on exactly those.

A model reading a folder it does not declare would leave its stage blind to changes in
that data, so every model loads its data here from a copy of `data/` holding only the
folders it declares.
"""

from pathlib import Path

import pytest

from training import CATALOG, AnySpec, TrainingRun
from training.data.loaders import data_dir

BUNDLED = data_dir()


@pytest.mark.parametrize("spec", CATALOG, ids=lambda spec: spec.name)
def test_model_reads_only_the_data_folders_it_declares(
    spec: AnySpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(set(spec.data_folders)) == len(spec.data_folders)
    for folder in spec.data_folders:
        assert (BUNDLED / folder).is_dir(), f"data/{folder} does not exist"
        (tmp_path / folder).symlink_to(BUNDLED / folder, target_is_directory=True)
    monkeypatch.setenv("PRACTICA_DATA_DIR", str(tmp_path))
    run = TrainingRun()
    spec.load_data(spec.smoke_config(), run)
    assert run.dataset_sha256, "the data it read is fingerprinted"
