import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model_registry.flavors import dump_json
from tests.networks import Smoke, assert_padding_changes_no_answer, smoke_fixture
from training.data.text_sets import load_imdb_reviews, load_imdb_sentences
from training.frameworks.onnx import GRAPH_FILE, NETWORK_FILE
from training.models._text import PAD_ID, UNK_ID, stored_tokenizer, word_tokenizer
from training.models.imdb_lstm import ImdbLstm, ImdbLstmTrainConfig, vocabulary
from training.models.review_sentiment import MovieReview
from training.run import TrainingRun

SPEC = ImdbLstm()
REVIEWS = [
    "A tender, funny and deeply moving film.",
    "Dull. The plot goes nowhere, the acting is wooden and the jokes fall flat; "
    "by the end I had stopped caring about anyone on screen, and so, it seems, had the director.",
    "not bad",
    "Zyxxqv!!",  # every token unknown
]


trained = smoke_fixture(SPEC)


def test_word_tokenizer_numbers_frequent_lower_cased_words_and_pads_to_the_longest() -> None:
    tokenizer = word_tokenizer(
        ["Great film!", "great acting", "a GREAT film", "rare"], min_frequency=2, max_tokens=4
    )
    vocab = tokenizer.get_vocab()
    assert vocab["[PAD]"] == PAD_ID
    assert vocab["[UNK]"] == UNK_ID
    assert {"great", "film"} <= set(vocab)
    assert "rare" not in vocab  # seen once
    batch = tokenizer.encode_batch(["Great FILM", "great film, great film again"])
    assert [len(e.ids) for e in batch] == [4, 4]  # cut at 4, the short one padded to it
    assert batch[0].ids[2:] == [PAD_ID, PAD_ID]
    assert batch[1].ids[2] == UNK_ID  # "," seen once


def test_vocabulary_comes_from_the_training_part_only_and_is_rebuilt_identically(
    trained: Smoke[ImdbLstm],
) -> None:
    config, data, network = trained.config, trained.data, trained.network
    vocab = stored_tokenizer(network).get_vocab()
    assert vocab == vocabulary(data.X_train, config).get_vocab()

    def words(texts: np.ndarray) -> set[str]:
        return {w for t in texts for w in re.findall(r"\w+", t.lower()) if w.isascii()}

    unseen = words(data.X_test["text"]) - words(data.X_train["text"])
    assert unseen, "the held-out part has words the training part lacks"
    assert not unseen & set(vocab)


def test_a_text_gets_the_same_answer_alone_or_padded_among_longer_texts(
    trained: Smoke[ImdbLstm],
) -> None:
    batch = [MovieReview(text=t) for t in REVIEWS]
    tokens = SPEC.encode(trained.served, batch)["tokens"]
    assert tokens.shape[1] > (tokens[2] != PAD_ID).sum(), "the short texts are padded"
    assert_padding_changes_no_answer(trained, batch, tolerance=1e-6)


def test_served_version_predicts_without_torch(trained: Smoke[ImdbLstm], tmp_path: Path) -> None:
    network = trained.network
    files = SPEC.save(network)
    for name in (GRAPH_FILE, NETWORK_FILE, "tokenizer.json"):
        (tmp_path / name).write_bytes(files[name])
    script = f"""
import sys
sys.modules["torch"] = None  # any import of torch now fails
from pathlib import Path
from training.models.imdb_lstm import ImdbLstm
from training.models.review_sentiment import MovieReview
from training.spec import LoadContext
spec = ImdbLstm()
files = {{p.name: p.read_bytes() for p in Path({str(tmp_path)!r}).iterdir()}}
print(spec.predict(spec.load(files, LoadContext()), [MovieReview(text="a fine film")])[0].label)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in {"positive", "negative"}
    assert dump_json(network.meta)  # meta is plain JSON


def test_decode_gives_the_probability_of_positive_and_the_label_that_goes_with_it() -> None:
    outputs = np.array([[0.0, 2.0], [3.0, -1.0], [1.0, 1.0]], dtype=np.float32)
    answers = SPEC.decode(None, outputs)  # type: ignore[arg-type]
    assert [a.label for a in answers] == ["positive", "negative", "negative"]
    assert answers[0].probability == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert answers[2].probability == pytest.approx(0.5)


def test_imdb_sentences_are_balanced_and_fingerprinted() -> None:
    run = TrainingRun()
    frame = load_imdb_sentences(run)
    assert len(frame) == 1000
    assert frame["label"].value_counts().to_dict() == {"negative": 500, "positive": 500}
    assert not frame["text"].str.contains("\t").any()
    assert run.dataset_sha256["imdb_labelled_sentences"] == (
        "a5851cfed830b68d4b18fa11f7e9fa85debee7566be0933c9a679ce747c86d67"
    )


def test_full_imdb_reviews_load_from_an_aclimdb_folder(tmp_path: Path) -> None:
    reviews = {
        "train/pos/0_9.txt": b"Loved it.<br /><br />Would watch again.",
        "train/neg/1_2.txt": b"Hated it.",
        "test/pos/2_8.txt": b"Great.",
        "train/unsup/3_0.txt": b"No label here.",
    }
    for name, content in reviews.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    run = TrainingRun()
    frame = load_imdb_reviews(run, tmp_path)
    assert sorted(zip(frame["label"], frame["text"], strict=True)) == [
        ("negative", "Hated it."),
        ("positive", "Great."),
        ("positive", "Loved it.  Would watch again."),
    ]
    listing = "\n".join(
        f"{hashlib.sha256(reviews[n]).hexdigest()}  {n}"
        for n in sorted(n for n in reviews if "unsup" not in n)
    )
    assert run.dataset_sha256["aclImdb"] == hashlib.sha256(listing.encode()).hexdigest()
    with pytest.raises(FileNotFoundError, match="aclImdb layout"):
        load_imdb_reviews(TrainingRun(), tmp_path / "train" / "pos")


def test_data_path_trains_on_the_full_imdb_instead_of_the_bundled_sentences(
    tmp_path: Path,
) -> None:
    for i in range(60):
        label = "pos" if i % 2 else "neg"
        path = tmp_path / "train" / label / f"{i}_1.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"review {i} was {'good' if i % 2 else 'bad'}")
    config = ImdbLstmTrainConfig(min_frequency=1)
    data = SPEC.load_data(config, TrainingRun(data_path=tmp_path))
    assert len(data.y_train) + len(data.y_test) + len(data.validation[1]) == 60
    assert set(data.X_train["source"].tolist()) == {2}
    assert data.X_train["tokens"].dtype == np.int64
    assert {"review", "was", "good", "bad"} <= set(vocabulary(data.X_train, config).get_vocab())
