from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from training.data.loaders import data_dir
from training.models._titles import TitleIndex, fold, title_keys
from training.models.movie_recommender import (
    MovieQuery,
    MovieRecommender,
    Ratings,
    Recommender,
    last_liked,
)
from training.run import TrainingRun
from training.spec import LoadContext, UnknownItemError

AMELIE = "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"


@dataclass(frozen=True)
class Trained:
    spec: MovieRecommender
    recommender: Recommender
    metrics: dict[str, float]
    run: TrainingRun


@pytest.fixture(scope="module")
def trained() -> Trained:
    """The full profile, trained once: every rating of ml-latest-small (about 20 s)."""
    spec, run = MovieRecommender(), TrainingRun()
    config = spec.config("full")
    data = spec.load_data(config, run)
    recommender = spec.fit(config, data, run)
    return Trained(spec, recommender, spec.evaluate(recommender, data, config, run), run)


@pytest.fixture(scope="module")
def genres() -> dict[str, str]:
    movies = pd.read_csv(data_dir() / "movielens_latest_small" / "movies.csv")
    return dict(zip(movies["title"], movies["genres"], strict=True))


def _ask(trained: Trained, title: str, k: int = 10) -> tuple[str, list[str]]:
    [answer] = trained.spec.predict(trained.recommender, [MovieQuery(title=title, k=k)])
    return answer.matched_title, [movie.title for movie in answer.recommendations]


def test_fold_drops_case_accents_and_punctuation() -> None:
    assert fold("Amélie") == fold("AMELIE") == "amelie"
    assert fold("Léon: The Professional") == "leon the professional"
    assert fold("Wallace & Gromit") == "wallace and gromit"


def test_title_keys_cover_moved_articles_alternates_and_no_year() -> None:
    assert title_keys("Matrix, The (1999)") == {"the matrix", "matrix"}
    assert {"amelie", "le fabuleux destin d amelie poulain"} <= title_keys(AMELIE)
    assert {"seven", "se7en"} <= title_keys("Seven (a.k.a. Se7en) (1995)")
    assert title_keys("Haine, La (1995)") == {"la haine"}


def test_title_index_prefers_the_most_rated_unless_the_year_says_otherwise() -> None:
    titles = ["Hamlet (1990)", "Hamlet (1996)", "Hamlet 2 (2008)", "Godfather, The (1972)"]
    index = TitleIndex(titles, np.array([5, 40, 3, 90]))
    assert index.match("hamlet") == 1
    assert index.match("Hamlet (1990)") == 0
    assert index.match("Hamlet (2020)") == 1, "an unknown year is not a reason to refuse"
    assert index.match("godfater") == 3
    assert index.match("the godfather (1972)") == 3
    with pytest.raises(UnknownItemError) as raised:
        index.match("zzzz qqqq")
    assert raised.value.field == "title"
    assert raised.value.suggestions


def test_last_liked_holds_out_each_users_latest_like() -> None:
    ratings = Ratings(
        user=np.array([0, 0, 0, 0, 1, 1]),
        movie=np.array([0, 1, 2, 3, 0, 1]),
        rating=np.array([5.0, 4.0, 4.5, 2.0, 5.0, 1.0]),
        timestamp=np.array([10, 30, 20, 40, 10, 20]),
    )
    mask = last_liked(ratings, MovieRecommender().config("full").model_copy(
        update={"min_user_ratings": 2}
    ))  # fmt: skip
    # User 0's latest rating (movie 3) is no like; user 1 has a single like, nothing to start from.
    assert mask.tolist() == [False, True, False, False, False, False]


def test_toy_story_brings_its_sequel_and_mostly_family_films(
    trained: Trained, genres: dict[str, str]
) -> None:
    matched, titles = _ask(trained, "Toy Story (1995)")
    assert matched == "Toy Story (1995)"
    assert "Toy Story 2 (1999)" in titles
    family = [t for t in titles if {"Animation", "Children"} & set(genres[t].split("|"))]
    assert len(family) > len(titles) / 2, titles


def test_godfather_matches_the_1972_film_and_brings_part_two(trained: Trained) -> None:
    for typed in ("godfather", "godfater", "The Godfather"):
        matched, titles = _ask(trained, typed)
        assert matched == "Godfather, The (1972)", typed
        assert "Godfather: Part II, The (1974)" in titles


@pytest.mark.parametrize("typed", ["the matrix", "MATRIX", "Matrix, The", "  matrix (1999) "])
def test_the_matrix_is_found_however_it_is_typed(trained: Trained, typed: str) -> None:
    assert _ask(trained, typed)[0] == "Matrix, The (1999)"


@pytest.mark.parametrize("typed", ["amelie", "Amélie", "le fabuleux destin d'amelie poulain"])
def test_amelie_is_found_with_or_without_accents(trained: Trained, typed: str) -> None:
    assert _ask(trained, typed)[0] == AMELIE


def test_a_title_without_a_year_means_the_most_rated_match(trained: Trained) -> None:
    assert _ask(trained, "toy story")[0] == "Toy Story (1995)"
    assert _ask(trained, "star wars")[0] == "Star Wars: Episode IV - A New Hope (1977)"


def test_an_unknown_title_suggests_close_ones(trained: Trained) -> None:
    with pytest.raises(UnknownItemError) as raised:
        _ask(trained, "zzzz qqqq")
    assert raised.value.suggestions
    assert set(raised.value.suggestions) <= set(trained.recommender.titles)


@pytest.mark.parametrize("k", [0, 51])
def test_k_is_bounded(k: int) -> None:
    with pytest.raises(ValidationError, match="k"):
        MovieQuery(title="Toy Story (1995)", k=k)


@pytest.mark.parametrize("k", [1, 50])
def test_k_recommendations_come_back_best_first(trained: Trained, k: int) -> None:
    [answer] = trained.spec.predict(trained.recommender, [MovieQuery(title="Heat (1995)", k=k)])
    scores = [movie.score for movie in answer.recommendations]
    assert len(scores) == k
    assert scores == sorted(scores, reverse=True)
    assert "Heat (1995)" not in [movie.title for movie in answer.recommendations]


def test_an_unrated_movie_gets_neighbours_from_its_genres(
    trained: Trained, genres: dict[str, str]
) -> None:
    neighbours = trained.recommender.neighbours
    unrated = int(np.flatnonzero(neighbours.raters == 0)[0])
    title = trained.recommender.titles[unrated]
    _, titles = _ask(trained, title, k=5)
    mine = set(genres[title].split("|"))
    assert all(mine & set(genres[t].split("|")) for t in titles), (title, titles)


def test_artifact_is_compact_and_round_trips_without_pickle(trained: Trained) -> None:
    files = trained.spec.save(trained.recommender)
    assert set(files) == {"neighbours.npz", "meta.json"}
    assert sum(map(len, files.values())) < 8_000_000
    loaded = trained.spec.load(files, LoadContext())
    assert loaded.neighbours.index.dtype == np.int32
    assert loaded.neighbours.score.dtype == np.float32
    assert loaded.neighbours.index.shape == (len(loaded.titles), 50)
    queries = [MovieQuery(title=t, k=20) for t in ("Toy Story (1995)", "godfater", "amelie")]
    assert trained.spec.predict(loaded, queries) == trained.spec.predict(
        trained.recommender, queries
    )


def test_full_profile_beats_popularity_by_the_floor(trained: Trained) -> None:
    metrics = trained.metrics
    assert all(floor.holds(metrics) for floor in trained.spec.floors), metrics
    assert metrics["lift_over_popularity"] == pytest.approx(
        metrics["hit_rate_at_10"] / metrics["popularity_hit_rate_at_10"]
    )
    assert metrics["evaluated_users"] > 600
    assert set(trained.run.dataset_sha256) == {
        "movielens_ratings", "movielens_movies", "movielens_tags"
    }  # fmt: skip
    assert "hit_rate_at_10" in trained.run.plots
    assert trained.run.notes
