"""Module 21: a movie recommender, item-item collaborative filtering on MovieLens.

Two films are similar when the same people rate them alike. Each movie keeps its
`n_neighbours` most similar movies as two small arrays (indices and scores), so serving
is a row lookup, not a 9,742² matrix. Most MovieLens films have too few raters for that
evidence to mean much; their similarity leans on content instead: genres and tags.

Evaluation is leave-one-out: each user's last-rated liked film is hidden, neighbours are
built from the other ratings, and the user's remaining liked films must bring the hidden
one into a top 10 more often than "the 10 most-rated films" does. Those neighbours are the
ones published: the model never saw the ratings it is scored on.
"""

import itertools
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

import numpy as np
from pydantic import Field, StringConstraints

from model_registry.flavors import dump_npz, load_npz
from training.frameworks.base import META_FILE, dump_meta, rebuild
from training.frameworks.numpy import NumpySpec
from training.models._titles import TitleIndex
from training.report.figures import new_figure
from training.run import TrainingRun
from training.schemas import NOT_BLANK
from training.spec import Floor, HeldOut, LoadContext, Schema, TrainConfig

MAX_K = 50
TOP = 10  # the evaluation's list length: hit rate at 10
NEIGHBOURS_FILE = "neighbours.npz"
PUBLISHED, CENTRED_ONLY, POPULAR = "item-item CF", "mean-centred ratings only", "10 most-rated"


class MovieQuery(Schema):
    title: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)
    ] = Field(
        description="a movie title, 1 to 300 characters; case, accents, 'The' at either end, "
        "a missing year and small typos are forgiven",
        json_schema_extra={"pattern": NOT_BLANK},
    )
    k: int = Field(10, ge=1, le=MAX_K, description=f"how many movies to recommend, 1 to {MAX_K}")


class RecommendedMovie(Schema):
    title: str = Field(description="MovieLens title, with its year")
    score: float = Field(description="similarity to the matched movie; higher is closer")


class MovieRecommendations(Schema):
    matched_title: str = Field(description="the catalogue movie the requested title matched")
    recommendations: list[RecommendedMovie] = Field(description="most similar first")


class MovieRecommenderTrainConfig(TrainConfig):
    n_neighbours: int = Field(MAX_K, ge=MAX_K, description="similar movies kept per movie")
    co_rating_weight: float = Field(
        0.25, ge=0, le=1, description="share of the similarity from who rated both films "
        "(binary cosine); the rest from mean-centred ratings (adjusted cosine)",
    )  # fmt: skip
    shrinkage: float = Field(
        10.0, ge=0, description="a similarity seen by c common raters is scaled by c/(c + this)"
    )
    content_raters: float = Field(
        5.0, gt=0, description="raters at which ratings and content (genres, tags) weigh equally"
    )
    liked_rating: float = Field(4.0, ge=0.5, le=5, description="ratings this high are likes")
    min_user_ratings: int = Field(20, ge=2, description="ratings a user needs to be evaluated")
    max_movies: int | None = Field(
        None, ge=100, description="keep only the most-rated movies (None: all of them)"
    )


@dataclass(frozen=True)
class Ratings:
    """One entry per rating: user and movie as indices (a movie's row in the catalogue)."""

    user: np.ndarray
    movie: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray

    def subset(self, mask: np.ndarray) -> "Ratings":
        return Ratings(self.user[mask], self.movie[mask], self.rating[mask], self.timestamp[mask])

    def by_user(self) -> list[np.ndarray]:
        """Each user's entries."""
        order = np.argsort(self.user, kind="stable")
        bounds = np.searchsorted(self.user[order], np.arange(int(self.user.max()) + 2))
        return [order[start:stop] for start, stop in itertools.pairwise(bounds)]


@dataclass(frozen=True)
class MovieLensSplit:
    titles: list[str]
    ratings: Ratings
    is_held_out: np.ndarray  # each evaluated user's last liked rating
    content: Any  # sparse (movies, genres + tag terms), unit rows


@dataclass(frozen=True)
class Neighbours:
    index: np.ndarray  # (n_movies, n_neighbours) int32, most similar first
    score: np.ndarray  # (n_movies, n_neighbours) float32
    raters: np.ndarray  # (n_movies,) int32


@dataclass(frozen=True)
class Recommender:
    neighbours: Neighbours  # stored in neighbours.npz, the titles in meta.json
    titles: list[str]

    @cached_property
    def title_index(self) -> "TitleIndex":
        return TitleIndex(self.titles, self.neighbours.raters)

    def recommend(self, title: str, k: int) -> MovieRecommendations:
        movie = self.title_index.match(title)
        pairs = zip(self.neighbours.index[movie, :k], self.neighbours.score[movie, :k], strict=True)
        return MovieRecommendations(
            matched_title=self.titles[movie],
            recommendations=[
                RecommendedMovie(title=self.titles[i], score=round(float(s), 4)) for i, s in pairs
            ],
        )


class MovieRecommender(
    NumpySpec[MovieQuery, MovieRecommendations, MovieRecommenderTrainConfig, MovieLensSplit,
              Recommender]
):  # fmt: skip
    name, module, kind = "movie-recommender", 21, "recommender"
    data_folders = ("movielens_latest_small",)
    title = "Movie recommender: item-item collaborative filtering on MovieLens"
    example_input = MovieQuery(title="Toy Story (1995)", k=10)
    floors = (Floor("lift_over_popularity", minimum=1.5),)
    selection_metric = "hit_rate_at_10"

    def smoke_config(self) -> MovieRecommenderTrainConfig:
        return MovieRecommenderTrainConfig(max_movies=1000)

    def load_data(self, config: MovieRecommenderTrainConfig, run: TrainingRun) -> MovieLensSplit:
        from training.data.loaders import load_movielens

        data = load_movielens(run, run.data_path)
        movies, ratings, tags = data.movies, data.ratings, data.tags
        if config.max_movies is not None:
            movies = movies[movies["movieId"].isin(
                ratings["movieId"].value_counts().index[: config.max_movies]
            )]  # fmt: skip
        row = {movie_id: i for i, movie_id in enumerate(movies["movieId"])}
        ratings = ratings[ratings["movieId"].isin(row)]
        tag_text = tags.groupby("movieId")["tag"].agg(lambda t: " ".join(map(str, t)))
        split = Ratings(
            user=ratings["userId"].factorize()[0].astype(np.int32),
            movie=ratings["movieId"].map(row).to_numpy(np.int32),
            rating=ratings["rating"].to_numpy(np.float32),
            timestamp=ratings["timestamp"].to_numpy(np.int64),
        )
        content = content_features(
            [[] if g == "(no genres listed)" else g.split("|") for g in movies["genres"]],
            [str(tag_text.get(movie_id, "")) for movie_id in movies["movieId"]],
        )
        return MovieLensSplit(movies["title"].tolist(), split, last_liked(split, config), content)

    def fit(
        self, config: MovieRecommenderTrainConfig, data: MovieLensSplit, run: TrainingRun
    ) -> Recommender:
        run.step("neighbours without the held-out ratings")
        training = data.ratings.subset(~data.is_held_out)
        return Recommender(build_neighbours(training, data.content, config), data.titles)

    def evaluate(
        self, artifact: Recommender, data: MovieLensSplit, config: MovieRecommenderTrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:  # fmt: skip
        results = leave_one_out(data, artifact.neighbours, config, run)
        # A baseline without a single hit counts as one, so the ratio stays finite and modest.
        baseline = max(results[POPULAR].hits, 1) / results[POPULAR].users
        metrics = {
            "hit_rate_at_10": results[PUBLISHED].hit_rate,
            "popularity_hit_rate_at_10": results[POPULAR].hit_rate,
            "lift_over_popularity": results[PUBLISHED].hit_rate / baseline,
            "mean_centred_only_hit_rate_at_10": results[CENTRED_ONLY].hit_rate,
            "catalogue_coverage_at_10": results[PUBLISHED].coverage,
            "evaluated_users": float(results[PUBLISHED].users),
            "content_led_share": float((artifact.neighbours.raters < config.content_raters).mean()),
        }
        _report(run, artifact, metrics, results, config)
        return metrics

    def held_out(self, config: MovieRecommenderTrainConfig, run: TrainingRun) -> HeldOut:
        """`evaluate`'s leave-one-out users, recommended to from the API's answers.

        The route answers one title at a time: each film a user liked outside the held-out
        rating is asked for its MAX_K neighbours once, and a user's top 10 sums the answers'
        scores by title, as `from_neighbours` sums the neighbour arrays. The popularity
        baseline is no answer of the model: it is counted from the training ratings. (A
        version keeping more than MAX_K neighbours sums more than the route answers.)
        """
        data = self.load_data(config, run)
        training = data.ratings.subset(~data.is_held_out)
        held_out = data.ratings.subset(data.is_held_out)
        by_user = training.by_user()
        rows = [by_user[user] for user in held_out.user]
        popular = most_rated(training, len(data.titles))
        popular_hits = sum(
            int(target in popular(training.movie[row], training.rating[row]))
            for row, target in zip(rows, held_out.movie, strict=True)
        )
        baseline = max(popular_hits, 1) / len(rows)  # as evaluate: no hit counts as one
        liked = [training.movie[row][training.rating[row] >= config.liked_rating] for row in rows]
        queried = np.unique(np.concatenate(liked)).tolist()
        rated = [{data.titles[movie] for movie in training.movie[row]} for row in rows]
        targets = [data.titles[movie] for movie in held_out.movie]

        def score(answers: list[dict[str, Any]]) -> dict[str, float]:
            answer_of = dict(zip(queried, answers, strict=True))
            hits = 0
            for movies, seen, target in zip(liked, rated, targets, strict=True):
                scores: defaultdict[str, float] = defaultdict(float)
                for movie in movies.tolist():
                    for found in answer_of[movie]["recommendations"]:
                        # A negative similarity counts 0, as in `from_neighbours`.
                        scores[found["title"]] += max(found["score"], 0.0)
                unseen = [title for title in scores if title not in seen]
                hits += target in sorted(unseen, key=lambda title: -scores[title])[:TOP]
            hit_rate = hits / len(targets)
            return {"hit_rate_at_10": hit_rate, "lift_over_popularity": hit_rate / baseline}

        return HeldOut([{"title": data.titles[movie], "k": MAX_K} for movie in queried], score)

    def save(self, artifact: Recommender) -> dict[str, bytes]:
        return {
            NEIGHBOURS_FILE: dump_npz(vars(artifact.neighbours)),
            META_FILE: dump_meta(artifact, "neighbours"),
        }

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> Recommender:
        neighbours = Neighbours(**load_npz(files[NEIGHBOURS_FILE]))
        recommender: Recommender = rebuild(Recommender, "neighbours", neighbours, files)
        recommender.title_index  # noqa: B018  built at load, not by the first request
        return recommender

    def predict(
        self, artifact: Recommender, batch: Sequence[MovieQuery]
    ) -> list[MovieRecommendations]:
        return [artifact.recommend(query.title, query.k) for query in batch]


def last_liked(ratings: Ratings, config: MovieRecommenderTrainConfig) -> np.ndarray:
    """A mask of each user's last liked rating by timestamp, for users with enough ratings.

    A user needs `min_user_ratings` ratings and another liked film to recommend from.
    """
    is_liked = ratings.rating >= config.liked_rating
    n_ratings = np.bincount(ratings.user)
    n_liked = np.bincount(ratings.user[is_liked], minlength=len(n_ratings))
    order = np.lexsort((ratings.movie, ratings.timestamp, ratings.user))  # ties: later row
    order = order[is_liked[order]]
    last = order[np.r_[ratings.user[order][1:] != ratings.user[order][:-1], True]]
    users = ratings.user[last]
    mask = np.zeros(len(ratings.user), dtype=bool)
    mask[last[(n_ratings[users] >= config.min_user_ratings) & (n_liked[users] >= 2)]] = True
    return mask


def content_features(genres: list[list[str]], tags: list[str]) -> Any:
    """Unit rows: genres one-hot beside tags' TF-IDF, each part normalised on its own first."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import MultiLabelBinarizer, normalize

    one_hot = normalize(MultiLabelBinarizer(sparse_output=True).fit_transform(genres))
    tf_idf = TfidfVectorizer(min_df=2, sublinear_tf=True).fit_transform(tags)
    return normalize(sparse.hstack([one_hot, tf_idf], format="csr")).astype(np.float32)


def build_neighbours(
    ratings: Ratings, content: Any, config: MovieRecommenderTrainConfig, block: int = 1024
) -> Neighbours:
    """Each movie's most similar movies, a block of rows at a time (never all movies²).

    For movies rated by n and n' users, c of them in common, with w = co_rating_weight:
        ratings = ((1 - w) cosine(mean-centred ratings) + w c / sqrt(n n')) c / (c + shrinkage)
        similarity = r ratings + (1 - r) cosine(content),  r = n / (n + content_raters)
    The shrinkage distrusts agreement among a few raters; r leaves films with few ratings
    to their genres and tags.
    """
    from scipy import sparse

    n_movies, n_users = content.shape[0], int(ratings.user.max()) + 1
    raters = np.bincount(ratings.movie, minlength=n_movies).astype(np.float32)
    user_mean = np.bincount(ratings.user, ratings.rating) / np.maximum(np.bincount(ratings.user), 1)
    centred = ratings.rating - user_mean[ratings.user]
    norms = np.sqrt(np.bincount(ratings.movie, centred**2, minlength=n_movies))

    def movies_by_users(values: np.ndarray) -> Any:
        coordinates = (ratings.user, ratings.movie)
        return sparse.csr_matrix((values.astype(np.float32), coordinates), (n_users, n_movies))

    unit_centred = movies_by_users(centred / np.maximum(norms, 1e-12)[ratings.movie])
    rated = movies_by_users(np.ones_like(centred))
    unit_centred_t, rated_t, content_t = unit_centred.T.tocsr(), rated.T.tocsr(), content.T
    inverse_sqrt_raters = 1 / np.sqrt(np.maximum(raters, 1))
    ratings_weight = (raters / (raters + config.content_raters))[:, None]
    # A whisper of popularity: movies content cannot tell apart go to the more-rated one.
    tie_break = 1e-6 * np.log1p(raters) / np.log1p(raters.max())
    index = np.empty((n_movies, config.n_neighbours), np.int32)
    score = np.empty((n_movies, config.n_neighbours), np.float32)
    for rows in (slice(start, min(start + block, n_movies)) for start in range(0, n_movies, block)):
        common = (rated_t[rows] @ rated).toarray()
        similar = (unit_centred_t[rows] @ unit_centred).toarray() * (1 - config.co_rating_weight)
        similar += (
            config.co_rating_weight * common * inverse_sqrt_raters[rows, None] * inverse_sqrt_raters
        )
        similar *= common / (common + config.shrinkage + 1e-9)
        similar *= ratings_weight[rows]
        similar += (1 - ratings_weight[rows]) * (content[rows] @ content_t).toarray() + tie_break
        similar[np.arange(similar.shape[0]), np.arange(rows.start, rows.stop)] = -np.inf  # self
        top = np.argpartition(-similar, config.n_neighbours, axis=1)[:, : config.n_neighbours]
        top_score = np.take_along_axis(similar, top, axis=1)
        order = np.argsort(-top_score, axis=1, kind="stable")
        index[rows] = np.take_along_axis(top, order, axis=1)
        score[rows] = np.take_along_axis(top_score, order, axis=1)
    return Neighbours(index, score, raters.astype(np.int32))


@dataclass(frozen=True)
class HitRate:
    hits: int
    users: int
    coverage: float  # share of the catalogue recommended to at least one user

    @property
    def hit_rate(self) -> float:
        return self.hits / self.users


Recommend = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""A user's rated movies and ratings → the indices of the movies to recommend."""


def from_neighbours(neighbours: Neighbours, liked_rating: float) -> Recommend:
    """The movies a user's likes point to most: the sum of their similarities."""

    def recommend(movies: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        liked = movies[ratings >= liked_rating]
        scores = np.zeros(len(neighbours.raters))
        # A negative similarity counts 0: a film unlike one liked is no evidence against it.
        np.add.at(scores, neighbours.index[liked], np.maximum(neighbours.score[liked], 0))
        scores[movies] = -np.inf
        return np.argpartition(-scores, TOP)[:TOP]

    return recommend


def most_rated(training: Ratings, n_movies: int) -> Recommend:
    """The baseline: the most-rated movies the user has not rated."""
    by_popularity = np.argsort(-np.bincount(training.movie, minlength=n_movies), kind="stable")

    def recommend(movies: np.ndarray, _ratings: np.ndarray) -> np.ndarray:
        return by_popularity[~np.isin(by_popularity, movies)][:TOP]

    return recommend


def leave_one_out(
    data: MovieLensSplit,
    published: Neighbours,
    config: MovieRecommenderTrainConfig,
    run: TrainingRun,
) -> dict[str, HitRate]:
    """How often each way of recommending puts a user's held-out film in their top 10:
    the `published` neighbours (built without the held-out ratings), centred ratings
    alone, and the most-rated films."""
    training = data.ratings.subset(~data.is_held_out)
    held_out = data.ratings.subset(data.is_held_out)
    run.step(f"neighbours without the held-out ratings: {CENTRED_ONLY}")
    centred_only = config.model_copy(update={"co_rating_weight": 0.0})
    methods = {
        POPULAR: most_rated(training, len(data.titles)),
        PUBLISHED: from_neighbours(published, config.liked_rating),
        CENTRED_ONLY: from_neighbours(
            build_neighbours(training, data.content, centred_only), config.liked_rating
        ),
    }
    rows = training.by_user()
    results = {}
    for name, recommend in methods.items():
        lists = [
            recommend(training.movie[rows[user]], training.rating[rows[user]])
            for user in held_out.user
        ]
        hits = sum(int(target in top) for target, top in zip(held_out.movie, lists, strict=True))
        coverage = len(np.unique(np.concatenate(lists))) / len(data.titles)
        results[name] = HitRate(hits, len(lists), coverage)
    return {name: results[name] for name in (PUBLISHED, CENTRED_ONLY, POPULAR)}


def _report(
    run: TrainingRun, artifact: Recommender, metrics: dict[str, float],
    results: dict[str, HitRate], config: MovieRecommenderTrainConfig,
) -> None:  # fmt: skip
    users = results[PUBLISHED].users
    figure, axes = new_figure(7, 4)
    bars = axes.bar(list(results), [r.hit_rate for r in results.values()], color=["C0", "C9", "C7"])
    axes.bar_label(bars, [f"{r.hit_rate:.3f}" for r in results.values()])
    axes.set(ylabel="hit rate at 10", title=f"Held-out liked film in the top 10 ({users} users)")
    axes.margins(y=0.12)  # room for the bar labels
    run.add_plot("hit_rate_at_10", figure)
    run.add_table("hit_rates", {
        name: {"hit_rate_at_10": round(r.hit_rate, 4), "hits": r.hits, "users": r.users,
               "catalogue_coverage_at_10": round(r.coverage, 4)}
        for name, r in results.items()
    })  # fmt: skip
    famous = [t for t in ("Toy Story (1995)", "Godfather, The (1972)") if t in artifact.titles]
    run.add_table("examples", {
        title: [f"{r.title} ({r.score:.3f})" for r in artifact.recommend(title, 5).recommendations]
        for title in famous
    })  # fmt: skip
    run.note(
        f"Leave-one-out over {users} users: with each user's last-rated liked film hidden, "
        f"their other likes bring it into the top 10 for {metrics['hit_rate_at_10']:.1%}; the "
        f"10 most-rated films they have not seen do for {metrics['popularity_hit_rate_at_10']:.1%}"
        f", so {metrics['lift_over_popularity']:.2f} times as often. The recommendations cover "
        f"{results[PUBLISHED].coverage:.1%} of the catalogue, the baseline's "
        f"{results[POPULAR].coverage:.1%}."
    )
    run.note(
        f"Similarity is {1 - config.co_rating_weight:.0%} cosine of mean-centred ratings (do "
        f"the same people like both more than they like films in general?) and "
        f"{config.co_rating_weight:.0%} cosine of who rated them (do the same people watch "
        f"both?). Centred ratings alone score {metrics['mean_centred_only_hit_rate_at_10']:.1%}: "
        "they keep taste (Toy Story's neighbours are family films) but forget that watching a "
        f"film is itself a signal. A similarity seen by c common raters is scaled by c/(c + "
        f"{config.shrinkage:g}); each movie keeps its {config.n_neighbours} closest."
    )
    run.note(
        f"{metrics['content_led_share']:.0%} of the movies have fewer than "
        f"{config.content_raters:g} raters. For them the cosine of genres (one-hot) and tags "
        f"(TF-IDF) outweighs the ratings: ratings weigh n/(n + {config.content_raters:g}) for n "
        "raters, so an unrated film is matched on content alone. The published neighbours are "
        "built without the held-out ratings, so the scores above are on films it never saw."
    )
