"""Text datasets of the neural text models: labelled IMDB sentences, a full IMDB, AG News.

Like every loader, each reads bytes once and records their sha256 on the run; `path`
points at a user's own copy in the format described. Rotten Tomatoes polarity, the other
half of imdb-lstm's bundled data, is `training.data.loaders.load_rt_polarity`.
"""

import csv
import hashlib
import html
import io
import re
from pathlib import Path

import pandas as pd

from training.data.loaders import read_dataset
from training.run import TrainingRun

AG_NEWS_TOPICS = ("World", "Sports", "Business", "Sci/Tech")
"""AG News's class indices 1-4, in order (its classes.txt)."""


def load_imdb_sentences(run: TrainingRun, path: Path | None = None) -> pd.DataFrame:
    """1,000 IMDB review sentences of Kotzias et al. (2015): `text` and `label` (positive/negative).

    `path` is a file in the same layout: one `sentence<TAB>0|1` per line, UTF-8.
    """
    content = read_dataset(
        run, "imdb_labelled_sentences", "sentiment_labelled_sentences/imdb_labelled.txt", path
    )
    # Split on "\n" only: a few sentences hold other Unicode line breaks (NEL).
    rows = [line.rsplit("\t", 1) for line in content.decode("utf-8").split("\n") if line.strip()]
    return pd.DataFrame(
        {"text": [text.strip() for text, _ in rows],
         "label": ["positive" if score.strip() == "1" else "negative" for _, score in rows]}
    )  # fmt: skip


def load_imdb_reviews(run: TrainingRun, path: Path) -> pd.DataFrame:
    """The full Large Movie Review Dataset (Maas et al., 2011) from its `aclImdb` folder.

    Reads `train/pos/*.txt` and `train/neg/*.txt`, and `test/pos`, `test/neg` when present
    (50,000 reviews in all); the `unsup` reviews have no label and are skipped. Returns
    `text` (HTML line breaks made spaces) and `label` (positive/negative). The fingerprint
    is that of a `sha256sum`-style listing of every file read, in path order.
    """
    folders = [path / part / label for part in ("train", "test") for label in ("pos", "neg")]
    files = sorted(f for folder in folders if folder.is_dir() for f in folder.glob("*.txt"))
    if not files:
        raise FileNotFoundError(
            f"no reviews under {path}: expected the aclImdb layout, train/pos/*.txt and "
            "train/neg/*.txt (aclImdb_v1.tar.gz from ai.stanford.edu/~amaas/data/sentiment)"
        )
    listing, texts, labels = [], [], []
    for file in files:
        content = file.read_bytes()
        listing.append(
            f"{hashlib.sha256(content).hexdigest()}  {file.relative_to(path).as_posix()}"
        )
        texts.append(re.sub(r"<br\s*/?>", " ", content.decode("utf-8", errors="replace")).strip())
        labels.append("positive" if file.parent.name == "pos" else "negative")
    run.record_dataset("aclImdb", "\n".join(listing).encode())
    return pd.DataFrame({"text": texts, "label": labels})


def clean_news_text(text: str) -> str:
    """AG News's escapes undone: `#36;` → `$`, `&lt;b&gt;` → `<b>` (then dropped), `\\` → space."""
    text = re.sub(r" ?#(\d+);", lambda match: chr(int(match.group(1))), text.replace("\\", " "))
    text = re.sub(r"<[^>]{0,40}>", " ", html.unescape(text))
    return re.sub(r"\s+", " ", text).strip()


def load_ag_news(run: TrainingRun, path: Path | None = None) -> pd.DataFrame:
    """AG News: `topic` (World, Sports, Business, Sci/Tech), `title`, `description`, cleaned.

    Bundled: the official test split (7,600 articles, 1,900 per topic). `path` is a CSV in
    the same layout (`class,title,description`, no header), or the `ag_news_csv` folder,
    whose `train.csv` (120,000 articles) and `test.csv` are then both read.
    """
    sources: list[tuple[str, Path | None]] = [("ag_news_test" if path is None else "ag_news", path)]
    if path is not None and path.is_dir():
        files = [path / "train.csv", path / "test.csv"]
        sources = [(f"ag_news_{file.stem}", file) for file in files if file.is_file()]
    rows = []
    for name, source in sources:
        content = read_dataset(run, name, "ag_news/test.csv", source)
        rows += list(csv.reader(io.StringIO(content.decode("utf-8"))))
    if not rows:
        raise FileNotFoundError(f"no AG News CSV found at {path}")
    return pd.DataFrame(
        {"topic": [AG_NEWS_TOPICS[int(row[0]) - 1] for row in rows],
         "title": [clean_news_text(row[1]) for row in rows],
         "description": [clean_news_text(row[2]) for row in rows]}
    )  # fmt: skip
