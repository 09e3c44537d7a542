"""Tensors out of a PyTorch checkpoint (`torch.save`'s legacy format) without unpickling it.

Some pretrained weights ship only as such a checkpoint. Its structure is a pickle, and
nothing a pickle holds is ever executed here: the opcodes are read one by one
(`pickletools.genops`) by a small interpreter that knows the handful a state dict uses
and the three callables it names (an ordered dict, a storage type, the tensor rebuilder);
anything else is refused. The tensors come back as NumPy arrays, keyed as in the file.

The legacy layout is five pickles (magic number, protocol, system info, the state dict
whose tensors point at storages by key, the storage keys in order), then each storage's
element count (8 bytes, little-endian) and raw bytes.
"""

import io
import pickletools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
STORAGE_TYPES = {"torch FloatStorage": np.float32, "torch LongStorage": np.int64}


class CheckpointError(ValueError):
    """A checkpoint this reader does not understand, or that is not one."""


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: type[np.generic]


@dataclass(frozen=True)
class _TensorView:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple[int, ...],
                    stride: tuple[int, ...], *_flags: Any) -> _TensorView:  # fmt: skip
    return _TensorView(storage, offset, tuple(size), tuple(stride))


CALLABLES: dict[str, Callable[..., Any]] = {
    "collections OrderedDict": dict,
    "torch._utils _rebuild_tensor_v2": _rebuild_tensor,
}


def read_torch_checkpoint(data: bytes) -> dict[str, np.ndarray]:
    """Every tensor of a legacy-format state dict, as a NumPy array (a copy)."""
    stream = io.BytesIO(data)
    if _read_pickle(stream) != MAGIC_NUMBER:
        raise CheckpointError("not a PyTorch checkpoint in the legacy format")
    _read_pickle(stream)  # protocol version
    _read_pickle(stream)  # system info: byte order (little), sizes of C types
    state = _read_pickle(stream)
    keys = _read_pickle(stream)
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise CheckpointError("the checkpoint does not hold a state dict")
    views = {name: view for name, view in state.items() if isinstance(view, _TensorView)}
    dtypes = {view.storage.key: view.storage.dtype for view in views.values()}
    storages = {}
    for key in keys:
        count = int.from_bytes(stream.read(8), "little")
        dtype = np.dtype(dtypes.get(key, np.uint8))
        storages[key] = np.frombuffer(stream.read(count * dtype.itemsize), dtype=dtype)
    return {name: _materialise(view, storages[view.storage.key]) for name, view in views.items()}


def _materialise(view: _TensorView, storage: np.ndarray) -> np.ndarray:
    item = storage.itemsize
    strided = np.lib.stride_tricks.as_strided(
        storage[view.offset :], shape=view.size, strides=[s * item for s in view.stride]
    )
    return np.array(strided)  # a copy: the strided view must not outlive its buffer


def _read_pickle(stream: io.BytesIO) -> Any:
    stack: list[Any] = []
    marks: list[int] = []
    memo: dict[Any, Any] = {}

    def since_mark() -> list[Any]:
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    for opcode, argument, _position in pickletools.genops(stream):
        name = opcode.name
        if name in ("PROTO", "FRAME"):
            continue
        if name == "STOP":
            return stack.pop()
        if name in ("BININT", "BININT1", "BININT2", "LONG1", "BINUNICODE", "SHORT_BINUNICODE"):
            stack.append(argument)
        elif name in ("NEWTRUE", "NEWFALSE", "NONE"):
            stack.append({"NEWTRUE": True, "NEWFALSE": False, "NONE": None}[name])
        elif name in ("EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE"):
            stack.append({"EMPTY_DICT": dict, "EMPTY_LIST": list, "EMPTY_TUPLE": tuple}[name]())
        elif name == "MARK":
            marks.append(len(stack))
        elif name in ("BINPUT", "LONG_BINPUT"):
            memo[argument] = stack[-1]
        elif name in ("BINGET", "LONG_BINGET"):
            stack.append(memo[argument])
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            count = int(name[-1])
            items = stack[-count:]
            del stack[-count:]
            stack.append(tuple(items))
        elif name == "TUPLE":
            stack.append(tuple(since_mark()))
        elif name == "SETITEMS":
            items = since_mark()
            stack[-1].update(zip(items[::2], items[1::2], strict=True))
        elif name == "SETITEM":
            value, key = stack.pop(), stack.pop()
            stack[-1][key] = value
        elif name == "APPENDS":
            items = since_mark()
            stack[-1].extend(items)
        elif name == "GLOBAL":
            if argument in STORAGE_TYPES:
                stack.append(STORAGE_TYPES[argument])
            elif argument in CALLABLES:
                stack.append(CALLABLES[argument])
            else:
                raise CheckpointError(f"the checkpoint names {argument!r}, which is not read")
        elif name == "REDUCE":
            arguments, function = stack.pop(), stack.pop()
            if function not in CALLABLES.values():
                raise CheckpointError("the checkpoint calls something other than its tensors")
            stack.append(function(*arguments))
        elif name == "BINPERSID":
            kind, dtype, key, _location, *_rest = stack.pop()
            if kind != "storage" or dtype not in STORAGE_TYPES.values():
                raise CheckpointError(f"unknown storage reference {kind!r}")
            stack.append(_Storage(str(key), dtype))
        elif name == "BUILD":
            stack.pop()  # the state dict's `_metadata` (module versions): not weights
        else:
            raise CheckpointError(f"pickle opcode {name} is not read in a checkpoint")
    raise CheckpointError("the checkpoint ends before its data")
