"""What the text networks share: the tokenizer stored with a version, padding, length buckets.

Text is tokenized by the `tokenizers` library (Rust; no torch, no transformers) from the
`tokenizer.json` a version stores next to its graph, so training and serving split and
number words the same way. A batch is padded to its own longest text (id 0, `[PAD]`, on
the right) and the graphs mask the padding, so a text gets the same answer alone or
batched with longer ones.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field

from training.frameworks.onnx import Network

if TYPE_CHECKING:
    from tokenizers import Tokenizer

TOKENIZER_FILE = "tokenizer.json"
PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1  # of a `word_tokenizer`
Probability = Annotated[float, Field(ge=0, le=1)]


def word_tokenizer(texts: Iterable[str], *, min_frequency: int, max_tokens: int) -> "Tokenizer":
    """A word-level vocabulary learnt from `texts`: ids for lower-cased words and runs of
    punctuation seen at least `min_frequency` times; `[PAD]` is 0, anything else `[UNK]`."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()  # \w+ and [^\w\s]+ runs
    trainer = trainers.WordLevelTrainer(
        min_frequency=min_frequency, special_tokens=[PAD, UNK], show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    return padded(tokenizer, max_tokens)


def padded(tokenizer: "Tokenizer", max_tokens: int) -> "Tokenizer":
    """Cut texts at `max_tokens`; pad each batch with `[PAD]` to its longest text, no further."""
    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(PAD), pad_token=PAD)
    return tokenizer


@lru_cache(maxsize=16)
def _parse(content: bytes) -> "Tokenizer":
    from tokenizers import Tokenizer

    return Tokenizer.from_str(content.decode("utf-8"))


def stored_tokenizer(network: Network) -> "Tokenizer":
    """The tokenizer of a version, parsed once (the file's bytes are the cache key)."""
    return _parse(network.files[TOKENIZER_FILE])


def tokenize(tokenizer: "Tokenizer", texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask (1 = real token), int64: a row per text, padded alike."""
    encodings = tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64).reshape(len(encodings), -1)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64).reshape(ids.shape)
    return ids, mask


def length_bucket(text: str, width: int, buckets: int) -> int:
    """Which of `buckets` length classes, `width` characters wide, a text falls in."""
    return min(len(text) // width, buckets - 1)


def softmax64(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, clipped to [0, 1] against rounding."""
    logits = logits.astype(np.float64)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(np.clip(exp / exp.sum(axis=1, keepdims=True), 0.0, 1.0))


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """PyTorch's intra-op thread count set for a block, then restored.

    Small recurrent steps (a 64-wide matrix per token) lose more to handing work between
    threads than they gain, badly so on a busy machine: one thread trains imdb-lstm about
    three times faster than two here.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
