"""Module 4: exploratory analysis of the Netflix catalogue (report only, nothing to serve).

Cleaning comes first: `date_added` mixes two formats (`25-Sep-21` and ` August 4, 2017`
with a leading space) and has gaps, `duration` holds minutes for movies and seasons for
shows (three movies carry it in `rating` instead), and `country` and `listed_in` are
comma-separated lists with stray spaces and trailing commas.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from model_registry.flavors import dump_json, load_json
from training.data.loaders import load_netflix
from training.report.figures import new_figure
from training.run import TrainingRun
from training.spec import AnalysisSpec, LoadContext, TrainConfig

DATE_FORMATS = {"d_mon_yy": "%d-%b-%y", "month_d_yyyy": "%B %d, %Y"}
MINUTES = r"^\s*(\d+)\s*min\s*$"

Summary = dict[str, Any]
"""The report's summary, JSON-able; it is also the artifact of the version."""


class NetflixEdaTrainConfig(TrainConfig):
    top_n: int = Field(10, ge=1, le=50, description="genres and countries listed in the summary")


@dataclass(frozen=True)
class CleanCatalogue:
    titles: pd.DataFrame
    """One row per title; `countries` and `genres` hold lists of names."""
    cleaning: dict[str, int]
    """What cleaning found and fixed, by count of rows."""


def parse_date_added(raw: pd.Series) -> tuple[pd.Series, dict[str, int]]:
    """Dates from either format the file uses; counts per format and of missing values."""
    text = raw.str.strip()
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    counts = {}
    for label, date_format in DATE_FORMATS.items():
        attempt = pd.to_datetime(text, format=date_format, errors="coerce")
        fills = parsed.isna() & attempt.notna()
        parsed[fills] = attempt[fills]
        counts[f"date_added_format_{label}"] = int(fills.sum())
    counts["date_added_missing"] = int(raw.isna().sum())
    counts["date_added_unparsed"] = int((raw.notna() & parsed.isna()).sum())
    counts["date_added_leading_space"] = int(raw.str.startswith(" ").fillna(False).sum())
    return parsed, counts


def split_list(raw: pd.Series) -> pd.Series:
    """`"France, Algeria,"` → `["France", "Algeria"]`; missing → `[]`."""
    return raw.fillna("").map(
        lambda text: [part.strip() for part in text.split(",") if part.strip()]
    )


def clean(frame: pd.DataFrame) -> CleanCatalogue:
    titles = frame.copy()
    cleaning: dict[str, int] = {"rows": len(titles)}
    titles["date_added"], date_counts = parse_date_added(titles["date_added"])
    cleaning.update(date_counts)

    # Three movies have their runtime in `rating` and no `duration`: move it back.
    misplaced = titles["duration"].isna() & titles["rating"].str.match(MINUTES).fillna(False)
    titles.loc[misplaced, "duration"] = titles.loc[misplaced, "rating"]
    titles.loc[misplaced, "rating"] = np.nan
    cleaning["duration_recovered_from_rating"] = int(misplaced.sum())

    is_movie = titles["type"] == "Movie"
    minutes = titles["duration"].str.extract(MINUTES, expand=False).astype("Int64")
    seasons = (
        titles["duration"].str.extract(r"^\s*(\d+)\s*Seasons?\s*$", expand=False).astype("Int64")
    )
    titles["duration_minutes"] = minutes.where(is_movie)
    titles["seasons"] = seasons.where(~is_movie)
    cleaning["movies_without_minutes"] = int(titles.loc[is_movie, "duration_minutes"].isna().sum())
    cleaning["shows_without_seasons"] = int(titles.loc[~is_movie, "seasons"].isna().sum())

    titles["countries"] = split_list(titles["country"])
    titles["genres"] = split_list(titles["listed_in"])
    cleaning["country_missing"] = int(titles["country"].isna().sum())
    cleaning["country_trailing_comma"] = int(
        titles["country"].str.strip().str.endswith(",").fillna(False).sum()
    )
    for column in ("director", "cast", "rating"):
        cleaning[f"{column}_missing"] = int(titles[column].isna().sum())

    titles["year_added"] = titles["date_added"].dt.year.astype("Int64")
    titles["years_to_netflix"] = titles["year_added"] - titles["release_year"]
    return CleanCatalogue(titles, cleaning)


def _top(lists: pd.Series, n: int) -> list[dict[str, Any]]:
    counts = lists.explode().dropna().value_counts()
    return [{"name": str(name), "titles": int(count)} for name, count in counts.head(n).items()]


def summarise(catalogue: CleanCatalogue, top_n: int) -> Summary:
    titles = catalogue.titles
    movies = titles[titles["type"] == "Movie"]
    shows = titles[titles["type"] == "TV Show"]
    minutes = movies["duration_minutes"].dropna().astype(float)
    lag = titles["years_to_netflix"].dropna().astype(float)
    per_year = (
        titles.dropna(subset=["year_added"])
        .groupby(["year_added", "type"])
        .size()
        .unstack(fill_value=0)
    )
    return {
        "n_titles": len(titles),
        "n_movies": len(movies),
        "n_shows": len(shows),
        "movie_share": len(movies) / len(titles),
        "date_added_range": [
            titles["date_added"].min().date().isoformat(),
            titles["date_added"].max().date().isoformat(),
        ],
        "release_year_range": [
            int(titles["release_year"].min()),
            int(titles["release_year"].max()),
        ],
        "titles_added_per_year": {
            str(year): {str(kind): int(count) for kind, count in row.items()}
            for year, row in per_year.iterrows()
        },
        "movie_minutes": {
            "median": float(minutes.median()),
            "mean": round(float(minutes.mean()), 1),
            "quartiles": [float(minutes.quantile(0.25)), float(minutes.quantile(0.75))],
            "min": float(minutes.min()),
            "max": float(minutes.max()),
        },
        "show_seasons": {
            "median": float(shows["seasons"].dropna().median()),
            "one_season_share": float((shows["seasons"] == 1).sum() / len(shows)),
            "max": int(shows["seasons"].max()),
        },
        "years_from_release_to_netflix": {
            "median": float(lag.median()),
            "same_year_share": float((lag == 0).mean()),
            "over_10_years_share": float((lag > 10).mean()),
            "negative": int((lag < 0).sum()),
        },
        "top_genres": _top(titles["genres"], top_n),
        "top_countries": _top(titles["countries"], top_n),
        "n_genres": int(titles["genres"].explode().dropna().nunique()),
        "n_countries": int(titles["countries"].explode().dropna().nunique()),
        "cleaning": catalogue.cleaning,
    }


class NetflixEda(AnalysisSpec[NetflixEdaTrainConfig, CleanCatalogue, Summary]):
    name = "netflix-eda"
    data_folders = ("netflix",)
    module = 4
    title = "Exploratory analysis of the Netflix catalogue"
    flavor = "json"  # the summary itself; an analysis has no framework to store it

    def load_data(self, config: NetflixEdaTrainConfig, run: TrainingRun) -> CleanCatalogue:
        """The whole catalogue, cleaned: an analysis describes all of it, so nothing is held out."""
        return clean(load_netflix(run, run.data_path))

    def fit(self, config: NetflixEdaTrainConfig, data: CleanCatalogue, run: TrainingRun) -> Summary:
        run.step("summarising the catalogue")
        return summarise(data, config.top_n)

    def evaluate(
        self,
        artifact: Summary,
        data: CleanCatalogue,
        config: NetflixEdaTrainConfig,
        run: TrainingRun,
    ) -> dict[str, float]:
        run.add_table("summary", artifact)
        _plot(run, artifact, data)
        cleaning = artifact["cleaning"]
        lag = artifact["years_from_release_to_netflix"]
        runtime = artifact["movie_minutes"]
        top_genre, top_country = artifact["top_genres"][0], artifact["top_countries"][0]
        busiest = max(
            artifact["titles_added_per_year"].items(), key=lambda item: sum(item[1].values())
        )
        run.note(
            f"The catalogue lists {artifact['n_titles']:,} titles: {artifact['n_movies']:,} movies "
            f"({artifact['movie_share']:.0%}) and {artifact['n_shows']:,} TV shows. Additions peak "
            f"in {busiest[0]} ({sum(busiest[1].values()):,} titles); the data end on "
            f"{artifact['date_added_range'][1]}, so the last year is partial. Movies run a median "
            f"{runtime['median']:.0f} minutes (middle half {runtime['quartiles'][0]:.0f}-"
            f"{runtime['quartiles'][1]:.0f}); {artifact['show_seasons']['one_season_share']:.0%} "
            "of shows have a single season."
        )
        run.note(
            f"{top_genre['name']} is the most common genre ({top_genre['titles']:,} titles) and "
            f"{top_country['name']} the most common country ({top_country['titles']:,}). A title "
            f"reaches Netflix a median {lag['median']:.0f} year(s) after release; "
            f"{lag['same_year_share']:.0%} arrive in their release year."
        )
        run.note(
            f"Cleaning: {cleaning['date_added_missing']} titles have no date added; the others "
            f"come in two formats ({cleaning['date_added_format_d_mon_yy']:,} like 25-Sep-21, "
            f"{cleaning['date_added_format_month_d_yyyy']:,} like ' August 4, 2017' with a leading "
            f"space), {cleaning['date_added_unparsed']} left unparsed; "
            f"{cleaning['duration_recovered_from_rating']} movie runtimes were moved back from "
            f"`rating`; {cleaning['country_missing']} titles have no country. Nothing is held out: "
            "the analysis describes the whole catalogue."
        )
        counts = {key: float(artifact[key]) for key in ("n_titles", "n_movies", "n_shows")}
        return counts | {
            "median_movie_minutes": runtime["median"],
            "median_years_to_netflix": lag["median"],
            "n_countries": float(artifact["n_countries"]),
            "n_genres": float(artifact["n_genres"]),
        }

    def save(self, artifact: Summary) -> dict[str, bytes]:
        return {"summary.json": dump_json(artifact)}

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> Summary:
        summary: Summary = load_json(files["summary.json"])
        return summary


def _plot(run: TrainingRun, summary: Summary, data: CleanCatalogue) -> None:
    """Growth per year, runtimes, genres, countries, and how old titles are when added."""
    per_year = summary["titles_added_per_year"]
    years = sorted(per_year, key=int)
    figure, axes = new_figure(8, 4.2)
    bottom = np.zeros(len(years))
    for kind, colour in (("Movie", "C0"), ("TV Show", "C1")):
        counts = np.array([per_year[year].get(kind, 0) for year in years])
        axes.bar(years, counts, bottom=bottom, color=colour, label=kind)
        bottom += counts
    axes.set(xlabel="year added to Netflix", ylabel="titles added", title="Titles added per year")
    axes.tick_params(axis="x", rotation=45)
    axes.legend()
    run.add_plot("titles_added_per_year", figure)

    minutes = data.titles["duration_minutes"].dropna().astype(float)
    figure, axes = new_figure()
    axes.hist(minutes, bins=np.arange(0, minutes.max() + 10, 5).tolist(), color="C0")
    median = summary["movie_minutes"]["median"]
    axes.axvline(median, color="C3", linestyle="--", label=f"median {median:.0f} min")
    axes.set(xlabel="runtime (minutes)", ylabel="movies", title="Movie runtimes")
    axes.legend()
    run.add_plot("movie_runtimes", figure)

    for key, title, unit in (
        ("top_genres", "Most common genres", "genres"),
        ("top_countries", "Most common production countries", "countries"),
    ):
        rows = summary[key][::-1]
        figure, axes = new_figure(6.4, 0.32 * len(rows) + 1.4)
        axes.barh([row["name"] for row in rows], [row["titles"] for row in rows], color="C2")
        axes.set(xlabel=f"titles (a title counts once for each of its {unit})", title=title)
        run.add_plot(key, figure)

    lag = data.titles["years_to_netflix"].dropna().astype(float)
    figure, axes = new_figure()
    axes.hist(lag.clip(-2, 40), bins=np.arange(-2.5, 41.5, 1).tolist(), color="C4")
    axes.set(xlabel="years from release to Netflix (clipped at 40)", ylabel="titles",
             title="How old titles are when Netflix adds them", yscale="log")  # fmt: skip
    run.add_plot("release_to_added_lag", figure)
