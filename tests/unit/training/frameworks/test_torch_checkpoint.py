"""Reading a PyTorch checkpoint's tensors without unpickling it."""

import io
import os
import pickle

import numpy as np
import pytest
import torch

from training.frameworks.torch_checkpoint import CheckpointError, read_torch_checkpoint


def _legacy_checkpoint(state: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


def test_tensors_come_back_equal_to_what_was_saved() -> None:
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = {
        "weight": torch.randn(3, 5),
        "steps": torch.tensor([7, 8, 9], dtype=torch.int64),
        "column": base[:, 2],  # a strided view with an offset into a shared storage
        "transposed": base.t(),
    }
    read = read_torch_checkpoint(_legacy_checkpoint(state))
    assert set(read) == set(state)
    for name, tensor in state.items():
        np.testing.assert_array_equal(read[name], tensor.numpy())
        assert read[name].dtype == tensor.numpy().dtype


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, ("echo unpickled",)


def test_a_checkpoint_that_names_anything_else_is_refused_without_running_it() -> None:
    header = b"".join(pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, {}))
    hostile = header + pickle.dumps({"weight": _Payload()}, protocol=2)
    with pytest.raises(CheckpointError, match="system"):
        read_torch_checkpoint(hostile)


def test_other_files_are_refused() -> None:
    with pytest.raises(CheckpointError):
        read_torch_checkpoint(pickle.dumps(42, protocol=2) * 5)
