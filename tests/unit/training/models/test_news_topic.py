from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.networks import Smoke, assert_padding_changes_no_answer, smoke_fixture
from training.data.text_sets import AG_NEWS_TOPICS, clean_news_text, load_ag_news
from training.frameworks.onnx import take
from training.models._text import softmax64
from training.models.news_topic import (
    NewsHeadline,
    NewsTopic,
    NewsTopicTrainConfig,
    TopicPrediction,
    TopicProbabilities,
    article_text,
    encoder_folder,
    frozen_states,
    package_tokenizer,
)
from training.run import TrainingRun

SPEC = NewsTopic()
HEADLINES = [
    "Red Sox beat Yankees 4-2",
    "Oil prices hit a record as OPEC talks stall; airlines warn that fuel costs will eat "
    "into their profits for the rest of the year and beyond, analysts say",
    "NASA",
    "Intel unveils faster chips",
]


trained = smoke_fixture(SPEC)


def test_onnx_matches_pytorch_on_held_out_inputs(trained: Smoke[NewsTopic]) -> None:
    data, network, served = trained.data, trained.network, trained.served
    held_out = take(data.X_test, slice(0, 16))
    assert (held_out["attention_mask"] == 0).any(), "some held-out rows are padded"
    expected, actual = softmax64(network.run(held_out)), softmax64(served.run(held_out))
    np.testing.assert_array_equal(actual.argmax(axis=1), expected.argmax(axis=1))
    np.testing.assert_allclose(actual, expected, atol=1e-4)


def test_a_headline_gets_the_same_answer_alone_or_padded_among_longer_ones(
    trained: Smoke[NewsTopic],
) -> None:
    batch = [NewsHeadline(headline=h) for h in HEADLINES]
    mask = SPEC.encode(trained.served, batch)["attention_mask"]
    assert mask.shape[1] == mask.sum(axis=1).max() > mask.sum(axis=1).min()
    assert_padding_changes_no_answer(trained, batch, tolerance=1e-5)


def test_only_the_top_layers_and_the_head_are_trained() -> None:
    module: Any = SPEC.build(NewsTopicTrainConfig(trained_layers=2), {})
    trained = [name for name, p in module.named_parameters() if p.requires_grad]
    trainable = {".".join(name.split(".")[:2]) for name in trained}
    assert trainable == {"layers.4", "layers.5", "head.weight", "head.bias"}


def test_frozen_states_are_the_bottom_layers_of_each_text_alone(trained: Smoke[NewsTopic]) -> None:
    data, network = trained.data, trained.network
    module: Any = network.module
    part = take(data.X_test, slice(0, 5))
    states = frozen_states(module, part, TrainingRun(), "test", batch_size=2)
    for row in range(5):
        width = int(part["attention_mask"][row].sum())
        with torch.inference_mode():
            alone = module.bottom(
                torch.from_numpy(part["input_ids"][row : row + 1, :width]),
                torch.from_numpy(part["attention_mask"][row : row + 1, :width]),
            )[0].numpy()
        np.testing.assert_allclose(states[row, :width], alone, atol=2e-2, rtol=1e-2)  # float16


def test_the_package_tokenizer_is_the_models_own_cut_and_padded_per_batch() -> None:
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(encoder_folder()), local_files_only=True)
    tokenizer = package_tokenizer(12)
    texts = ["Stocks fall on Wall St.", "Sci-fi author's 10th novel tops U.K. charts: critics rave"]
    batch = tokenizer.encode_batch(texts)
    expected = reference(texts, truncation=True, max_length=12, padding="longest")
    assert [e.ids for e in batch] == expected["input_ids"]
    assert [e.attention_mask for e in batch] == expected["attention_mask"]
    assert len(tokenizer.encode_batch(["short one"])[0].ids) == 4  # [CLS] short one [SEP]


def test_topic_probabilities_are_keyed_by_topic_name() -> None:
    probabilities = TopicProbabilities.model_validate(
        dict(zip(AG_NEWS_TOPICS, [0.1, 0.2, 0.3, 0.4], strict=True))
    )
    prediction = TopicPrediction(topic="Sci/Tech", probabilities=probabilities)
    dumped = prediction.model_dump()
    assert list(dumped["probabilities"]) == list(AG_NEWS_TOPICS)
    assert TopicPrediction.model_validate(dumped) == prediction
    schema = TopicPrediction.model_json_schema()
    assert schema["$defs"]["TopicProbabilities"]["required"] == list(AG_NEWS_TOPICS)
    assert schema["properties"]["topic"]["enum"] == list(AG_NEWS_TOPICS)


def test_decode_picks_the_most_probable_topic() -> None:
    outputs = np.array([[0.0, 3.0, 1.0, 0.0], [5.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    first, second = SPEC.decode(None, outputs)  # type: ignore[arg-type]
    assert (first.topic, second.topic) == ("Sports", "World")
    assert sum(first.probabilities.model_dump().values()) == pytest.approx(1.0)


def test_ag_news_escapes_are_undone() -> None:
    assert clean_news_text("Man Sought  #36;50M From McGreevey") == "Man Sought $50M From McGreevey"
    assert clean_news_text("Eriksson doesn #39;t feel") == "Eriksson doesn't feel"
    assert clean_news_text("Gaza &lt;b&gt;...&lt;/b&gt;") == "Gaza ..."
    assert clean_news_text("A second\\team of rocketeers") == "A second team of rocketeers"
    assert clean_news_text("AT&amp;T") == "AT&T"


def test_article_text_is_headline_then_description() -> None:
    assert article_text("Oil hits record (AP)", "AP - Crude rose.") == (
        "Oil hits record (AP). AP - Crude rose."
    )
    assert article_text("Is it over?", "Maybe.") == "Is it over? Maybe."


def test_bundled_ag_news_is_the_balanced_test_split() -> None:
    run = TrainingRun()
    frame = load_ag_news(run)
    assert len(frame) == 7600
    assert frame["topic"].value_counts().to_dict() == dict.fromkeys(AG_NEWS_TOPICS, 1900)
    assert run.dataset_sha256 == {
        "ag_news_test": "d2a2cef4dfeb21ca17b463fd15e9e5a639c05823d03efabb3d28a75bbfe8d915"
    }


def test_a_users_ag_news_folder_reads_train_and_test(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(
        '"2","Goal!","A late winner."\n"3","Shares up","Markets."\n'
    )
    (tmp_path / "test.csv").write_text('"4","New chip","Faster."\n')
    run = TrainingRun()
    frame = load_ag_news(run, tmp_path)
    assert frame["topic"].tolist() == ["Sports", "Business", "Sci/Tech"]
    assert set(run.dataset_sha256) == {"ag_news_train", "ag_news_test"}
    with pytest.raises(FileNotFoundError):
        load_ag_news(TrainingRun(), tmp_path / "missing")
