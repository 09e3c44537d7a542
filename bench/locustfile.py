"""Realistic traffic for a running `practica serve`: every route, predict-heavy.

    .venv/bin/locust -f bench/locustfile.py --host http://127.0.0.1:8000            # web UI
    .venv/bin/locust -f bench/locustfile.py --host http://127.0.0.1:8000 \
        --headless -u 8 -r 8 -t 60s --csv load                                      # no UI

Each served model's predict route gets its catalog `example_input` and, where the bundled
data makes it cheap, real rows (passengers, customers, SMS, movie reviews, news
headlines, pet photos), alone or in batches. Image models also get multipart uploads on
`/classify/{name}`; `/recommend` gets popular MovieLens titles typed the way people type
them (lower case, no year, the article in front, a letter missing). Metadata, reports,
plots, health and metrics get the rest.

A request fails on any non-2xx status and on a 2xx body that does not answer the
request (wrong model, wrong number of predictions). Request names are the routes of
`/openapi.json`, so the stats read as a route table.

`--tags NAME` sends only the traffic of one model (e.g. `--tags titanic-survival`);
`--served-versions PATH` writes how many answers each version of each model gave, as
JSON, when the test stops: the way to see an alias move take effect under load. Only
locust's own libraries and the catalog's serving code are imported (no PyTorch), so the
generator can run on the serving machine.
"""

import base64
import collections
import csv
import itertools
import json
import os
import random
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from locust import HttpUser, TaskSet, between, events, tag, task
from locust.argument_parser import LocustArgumentParser
from locust.clients import ResponseContextManager
from locust.env import Environment

from training import CATALOG, AnyModelSpec, ModelSpec
from training.schemas import ImageInput

JsonObject = dict[str, Any]

DATA = Path(os.environ.get("PRACTICA_DATA_DIR") or Path(__file__).resolve().parents[1] / "data")
MODELS = "/v1/models"
OIP = "/v2/models"
IRIS_TENSORS = {
    "inputs": [
        {"name": field, "shape": [1], "datatype": "FP64", "data": [value]}
        for field, value in {
            "sepal_length_cm": 5.1,
            "sepal_width_cm": 3.5,
            "petal_length_cm": 1.4,
            "petal_width_cm": 0.2,
        }.items()
    ]
}
BATCH_SIZES = (1, 1, 1, 1, 2, 8, 32)  # most callers send one instance; some send batches
MAX_IMAGE_BATCH = 2  # base64 photos are ~130 kB each: bigger batches are not typical
PHOTO_STRIDE = 8  # every 8th Oxford-IIIT Pet photo: about 30, cats and dogs, ~3 MB
TEXT_ROWS = 400  # per text dataset: plenty of variety, little memory
POPULAR_TITLES = 100  # the smoke profile keeps the 1,000 most-rated movies: these are in it

# How many answers each version of each model gave during the run: model → version → count.
served_versions: collections.defaultdict[str, collections.Counter[int]] = collections.defaultdict(
    collections.Counter
)


# Payloads, built once when locust starts.


def _rows(
    path: Path, limit: int | None = None, fieldnames: Sequence[str] | None = None
) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        yield from itertools.islice(csv.DictReader(file, fieldnames=fieldnames), limit)


def _lines(path: Path, limit: int, encoding: str = "utf-8") -> list[str]:
    with path.open(encoding=encoding) as file:
        return [line.strip() for line in itertools.islice(file, limit) if line.strip()]


def _passengers() -> list[JsonObject]:
    """Kaggle's Titanic rows as the predict route takes them: snake case, gaps as null."""

    def number(text: str, kind: Callable[[str], Any] = float) -> Any:
        return kind(text) if text else None

    return [
        {
            "pclass": int(row["Pclass"]),
            "name": row["Name"],
            "sex": row["Sex"],
            "age": number(row["Age"]),
            "sibsp": int(row["SibSp"]),
            "parch": int(row["Parch"]),
            "ticket": row["Ticket"] or None,
            "fare": number(row["Fare"]),
            "cabin": row["Cabin"] or None,
            "embarked": row["Embarked"] or None,
        }
        for row in _rows(DATA / "titanic" / "titanic.csv")
    ]


def _customers() -> list[JsonObject]:
    return [
        {
            "gender": row["Gender"],
            "age": int(row["Age"]),
            "annual_income_k_usd": float(row["Annual Income (k$)"]),
            "spending_score": float(row["Spending Score (1-100)"]),
        }
        for row in _rows(DATA / "mall_customers" / "Mall_Customers.csv")
    ]


def _sms() -> list[str]:
    path = DATA / "sms_spam" / "SMSSpamCollection"
    return [line.split("\t", 1)[1] for line in _lines(path, TEXT_ROWS) if "\t" in line]


def _reviews() -> list[str]:
    folder = DATA / "rt_polarity"
    # The corpus is Latin-1; half positive, half negative sentences.
    return [
        *_lines(folder / "rt-polarity.pos", TEXT_ROWS // 2, "latin-1"),
        *_lines(folder / "rt-polarity.neg", TEXT_ROWS // 2, "latin-1"),
    ]


def _headlines() -> list[str]:
    rows = _rows(DATA / "ag_news" / "test.csv", TEXT_ROWS, fieldnames=["topic", "title", "text"])
    return [row["title"] for row in rows]


def _photos() -> list[bytes]:
    paths = sorted((DATA / "oxford_pets").glob("*/*.jpg"))[::PHOTO_STRIDE]
    return [path.read_bytes() for path in paths]


def _popular_titles() -> list[str]:
    """The most-rated MovieLens titles, as the catalogue spells them ("Matrix, The (1999)")."""
    folder = DATA / "movielens_latest_small"
    titles = {row["movieId"]: row["title"] for row in _rows(folder / "movies.csv")}
    raters = collections.Counter(row["movieId"] for row in _rows(folder / "ratings.csv"))
    return [titles[movie] for movie, _ in raters.most_common(POPULAR_TITLES)]


_YEAR = re.compile(r"\s*\(\d{4}\)$")
_MOVED_ARTICLE = re.compile(r"^(.*), (The|A|An)$")


def typed_titles(title: str) -> list[str]:
    """A catalogue title and the ways people type it; the recommender forgives all of them."""
    name = _YEAR.sub("", title)
    moved = _MOVED_ARTICLE.match(name)
    spoken = f"{moved[2]} {moved[1]}" if moved else name  # "The Matrix"
    typed = [title, spoken, spoken.lower()]
    longest = max(spoken.split(), key=len)
    if len(longest) >= 6:  # one letter dropped from a long word stays well within the cutoff
        middle = len(longest) // 2
        typed.append(spoken.replace(longest, longest[:middle] + longest[middle + 1 :], 1))
    return typed


def _image_instances(photos: Sequence[bytes]) -> list[JsonObject]:
    return [{"image_base64": base64.b64encode(photo).decode()} for photo in photos]


PHOTOS = _photos()
TITLES = [typed for title in _popular_titles() for typed in typed_titles(title)]
_TEXTS = {"spam-svm": _sms, "review-sentiment": _reviews, "imdb-lstm": _reviews,
          "news-topic": _headlines}  # fmt: skip
_ROWS = {"titanic-survival": _passengers, "mall-segments": _customers}


def instance_pool(spec: AnyModelSpec) -> list[JsonObject]:
    """The instances a model's requests draw from: its example, plus real data where cheap."""
    example: JsonObject = spec.example_input.model_dump(mode="json")
    pool = [example]
    if spec.name in _ROWS:
        pool += _ROWS[spec.name]()
    elif spec.name in _TEXTS:
        [field] = example  # text models take one text field: `text`, `headline`
        pool += [{field: text} for text in _TEXTS[spec.name]()]
    elif spec.name == "xor-net":
        pool = [{"a": a, "b": b} for a in (0, 1) for b in (0, 1)]
    elif spec.name == "movie-recommender":
        pool += [{"title": title, "k": random.choice((5, 10, 20))} for title in TITLES]
    elif issubclass(spec.input_schema, ImageInput):
        pool += _image_instances(PHOTOS)
    return pool


SERVABLE = [spec for spec in CATALOG if isinstance(spec, ModelSpec)]
POOLS = {spec.name: instance_pool(spec) for spec in SERVABLE}
IMAGE_MODELS = [spec.name for spec in SERVABLE if issubclass(spec.input_schema, ImageInput)]
# Uploads: the real photos, and each model's own example image (a 32x32 CIFAR-10 picture
# for cifar10-cnn) decoded back to the file a user would send.
UPLOADS = {
    name: [*PHOTOS, base64.b64decode(POOLS[name][0]["image_base64"])] for name in IMAGE_MODELS
}


# The user.


def check(response: ResponseContextManager) -> JsonObject | None:
    """Fail any non-2xx answer, naming the status and the error `code`; else the JSON body.

    A 2xx answer left unmarked counts as a success when the `with` block ends.
    """
    if not 200 <= response.status_code < 300:
        try:
            error = response.json()
        except ValueError:
            error = response.text[:200]
        reason = error.get("code") or error.get("detail") if isinstance(error, dict) else error
        response.failure(f"HTTP {response.status_code}: {reason}")
        return None
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None  # /metrics, plots
    body: JsonObject = response.json()
    return body


def check_predictions(response: ResponseContextManager, model: str, count: int) -> None:
    """A predict answer names the model and holds one prediction per instance."""
    body = check(response)
    if body is None:
        return
    if body.get("model") != model or len(body.get("predictions", ())) != count:
        response.failure(f"answer does not match the request: model {body.get('model')!r}")
        return
    served_versions[model][body["version"]] += 1


def _predict_task(name: str) -> Callable[["PracticaUser"], None]:
    pool = POOLS[name]
    max_batch = MAX_IMAGE_BATCH if name in IMAGE_MODELS else max(BATCH_SIZES)

    @tag(name, "predict")
    def predict(user: "PracticaUser") -> None:
        if name not in user.served:
            return
        size = min(random.choice(BATCH_SIZES), max_batch)
        instances = random.choices(pool, k=size)
        with user.client.post(
            f"{MODELS}/{name}/predict", json={"instances": instances}, catch_response=True
        ) as response:
            check_predictions(response, name, size)

    predict.__name__ = f"predict_{name}"
    return predict


def _classify_task(name: str) -> Callable[["PracticaUser"], None]:
    @tag(name, "classify")
    def classify(user: "PracticaUser") -> None:
        if name not in user.served:
            return
        photo = random.choice(UPLOADS[name])
        kind = "png" if photo.startswith(b"\x89PNG") else "jpeg"
        files = {"file": (f"upload.{kind}", photo, f"image/{kind}")}
        with user.client.post(f"/classify/{name}", files=files, catch_response=True) as response:
            check_predictions(response, name, 1)

    classify.__name__ = f"classify_{name}"
    return classify


# Predict routes carry most of the traffic; the busiest models a little more of it.
PREDICT_WEIGHTS = {"titanic-survival": 5, "spam-svm": 4, "news-topic": 4, "cat-dog": 4}
PREDICT_TASKS = {_predict_task(spec.name): PREDICT_WEIGHTS.get(spec.name, 3) for spec in SERVABLE}
CLASSIFY_TASKS = {_classify_task(name): 4 for name in IMAGE_MODELS}


def weighted(
    tasks: dict[Callable[["PracticaUser"], None], int],
) -> list[TaskSet | Callable[..., Any]]:
    """Locust's task list: each task as many times as its weight (what `@task(n)` does)."""
    return [function for function, weight in tasks.items() for _ in range(weight)]


class PracticaUser(HttpUser):
    """An API client: discovers the served models, then predicts, browses and monitors."""

    wait_time = between(0.01, 0.1)
    tasks = weighted({**PREDICT_TASKS, **CLASSIFY_TASKS})

    def on_start(self) -> None:
        self.served: set[str] = set()
        self.reported: list[str] = []  # models with a version, hence a report
        self.plots: list[str] = []  # plot URLs seen in reports
        self.readiness()
        self.list_models()

    @tag("movie-recommender", "recommend")
    @task(5)
    def recommend_post(self) -> None:
        k = random.choice((5, 10, 20))
        query = {"title": random.choice(TITLES), "k": k}
        with self.client.post("/recommend", json=query, catch_response=True) as response:
            self._check_recommendations(response, k)

    @tag("movie-recommender", "recommend")
    @task(4)
    def recommend_get(self) -> None:
        k = random.choice((5, 10))
        query = {"title": random.choice(TITLES), "k": k}
        with self.client.get(
            "/recommend", params=query, name="/recommend", catch_response=True
        ) as response:
            self._check_recommendations(response, k)

    @tag("models")
    @task(3)
    def list_models(self) -> None:
        with self.client.get(MODELS, catch_response=True) as response:
            body = check(response)
            if body is None:
                return
            models = body["models"]
            self.served = {m["name"] for m in models if m["serving_version"] is not None}
            self.reported = [m["name"] for m in models if m["versions"]]

    @tag("models")
    @task(3)
    def model_detail(self) -> None:
        name = random.choice(CATALOG).name
        with self.client.get(
            f"{MODELS}/{name}", name=f"{MODELS}/{{name}}", catch_response=True
        ) as response:
            body = check(response)
            if body is not None and body.get("name") != name:
                response.failure(f"asked for {name}, got {body.get('name')!r}")

    @tag("models")
    @task(3)
    def report(self) -> None:
        if not self.reported:
            return
        name = random.choice(self.reported)
        with self.client.get(
            f"{MODELS}/{name}/report", name=f"{MODELS}/{{name}}/report", catch_response=True
        ) as response:
            if (body := check(response)) is None:
                return
            self.plots += [plot["url"] for plot in body["plots"] if plot["url"] not in self.plots]

    @tag("models")
    @task(2)
    def plot(self) -> None:
        if not self.plots:
            self.report()  # a dashboard reads a report before it shows the report's plots
            return
        with self.client.get(
            random.choice(self.plots), name=f"{MODELS}/{{name}}/report/plots/{{plot}}",
            catch_response=True,
        ) as response:  # fmt: skip
            check(response)

    @tag("health")
    @task(2)
    def readiness(self) -> None:
        with self.client.get("/readyz", catch_response=True) as response:
            body = check(response)
            if body is not None and body.get("status") != "ready":
                response.failure(f"not ready: {body}")

    @tag("health")
    @task(2)
    def liveness(self) -> None:
        with self.client.get("/healthz", catch_response=True) as response:
            check(response)

    @tag("health")
    @task(2)
    def metrics(self) -> None:
        with self.client.get("/metrics", catch_response=True) as response:
            check(response)  # Prometheus text: any 2xx is an answer

    # The Open Inference Protocol, as a KServe or Triton client speaks it, on the tabular
    # model every registry serves; tritonclient's own tests cover the other models.

    @tag("oip")
    @task(1)
    def oip_server(self) -> None:
        for path in ("/v2", "/v2/health/live", "/v2/health/ready"):
            with self.client.get(path, catch_response=True) as response:
                check(response)

    @tag("oip")
    @task(1)
    def oip_model(self) -> None:
        with self.client.get(
            f"{OIP}/iris-pca", name=f"{OIP}/{{name}}", catch_response=True
        ) as response:
            body = check(response)
        version = body["versions"][-1] if body and body.get("versions") else "1"
        for suffix, name in (
            ("/ready", f"{OIP}/{{name}}/ready"),
            (f"/versions/{version}", f"{OIP}/{{name}}/versions/{{version}}"),
            (f"/versions/{version}/ready", f"{OIP}/{{name}}/versions/{{version}}/ready"),
        ):
            with self.client.get(
                f"{OIP}/iris-pca{suffix}", name=name, catch_response=True
            ) as response:
                check(response)
        for suffix, name in (
            ("/infer", f"{OIP}/{{name}}/infer"),
            (f"/versions/{version}/infer", f"{OIP}/{{name}}/versions/{{version}}/infer"),
        ):
            with self.client.post(
                f"{OIP}/iris-pca{suffix}", json=IRIS_TENSORS, name=name, catch_response=True
            ) as response:
                answer = check(response)
                if answer is not None and not answer.get("outputs"):
                    response.failure("an infer answer without outputs")

    def _check_recommendations(self, response: ResponseContextManager, k: int) -> None:
        body = check(response)
        if body is None:
            return
        if not body.get("matched_title") or not 0 < len(body.get("recommendations", ())) <= k:
            response.failure(f"expected 1 to {k} recommendations: {body}")
            return
        served_versions["movie-recommender"][body["version"]] += 1


@events.init_command_line_parser.add_listener
def _add_options(parser: LocustArgumentParser) -> None:
    parser.add_argument(
        "--served-versions",
        default="",
        help="write {model: {version: answers}} here as JSON when the run ends",
    )


@events.test_start.add_listener
def _reset_served_versions(**_: Any) -> None:
    served_versions.clear()  # each test of a web UI session counts its own answers


@events.test_stop.add_listener
def _write_served_versions(environment: Environment, **_: Any) -> None:
    # After the users have stopped, so the counts match the request statistics.
    path = environment.parsed_options.served_versions if environment.parsed_options else ""
    if path:
        counts = {model: dict(versions) for model, versions in served_versions.items()}
        Path(path).write_text(json.dumps(counts, indent=2, sort_keys=True))
