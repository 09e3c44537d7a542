"""Titles as people type them, matched to a catalogue's: case, accents, moved articles,
missing years and small typos forgiven; an unknown title answered with the closest ones.

Used by the movie recommender at serving time: pure Python and NumPy, no index files.
"""

import bisect
import difflib
import itertools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from training.spec import UnknownItemError

MATCH_CUTOFF = 0.8  # difflib ratio a misspelt title needs ("godfater" to "godfather": 0.94)
SHORTLIST = 20  # titles closest by shared trigrams, then ranked by difflib
# Articles MovieLens moves to the end: "Matrix, The", "Haine, La".
_MOVED_ARTICLE = re.compile(r"^(.*), (the|a|an|les|le|la|l'|il|el|los|las|der|die|das)$", re.I)
# "(1995)", or a span of years joined by a hyphen or an en dash.
_YEAR = re.compile(r"\s*\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*$")
_ALTERNATE = re.compile(r"\s*\((?:a\.k\.a\. )?([^()]+)\)")  # "Seven (a.k.a. Se7en)"


def fold(text: str) -> str:
    """Lower case without accents or punctuation: 'Amélie' and 'amelie' meet."""
    decomposed = unicodedata.normalize("NFKD", text.replace("&", " and "))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain).split())


def split_year(title: str) -> tuple[str, int | None]:
    found = _YEAR.search(title)
    return (title[: found.start()], int(found[1])) if found else (title, None)


def title_key(name: str) -> str:
    """'Matrix, The' and 'the MATRIX' → 'the matrix'."""
    moved = _MOVED_ARTICLE.match(name.strip())
    return fold(f"{moved[2]} {moved[1]}" if moved else name)


def title_keys(title: str) -> set[str]:
    """Every key a movie answers to: main and alternate titles, with and without 'the'."""
    name, _ = split_year(title)
    keys = {title_key(form) for form in (name, _ALTERNATE.sub("", name), *_ALTERNATE.findall(name))}
    return {key for key in keys | {re.sub(r"^(the|a|an) ", "", key) for key in keys} if key}


def trigrams(key: str) -> set[str]:
    padded = f" {key} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


class TitleIndex:
    """The movie a typed title means: its exact key, else a word prefix, else the closest spelling.

    A title several movies answer to ("toy story", "star wars") means the most-rated of
    them, unless the request's year picks another. Misspellings are shortlisted by shared
    trigrams (NumPy counts, no loop over titles) and then ranked by difflib's ratio.
    """

    def __init__(self, titles: Sequence[str], raters: np.ndarray) -> None:
        self._titles, self._raters = list(titles), raters
        self._years = [split_year(title)[1] for title in titles]
        self._movies: dict[str, list[int]] = defaultdict(list)
        for movie, title in enumerate(titles):
            for key in title_keys(title):
                self._movies[key].append(movie)
        self._keys = sorted(self._movies)
        postings: defaultdict[str, list[int]] = defaultdict(list)
        for position, key in enumerate(self._keys):
            for gram in trigrams(key):
                postings[gram].append(position)
        self._postings = {gram: np.array(positions) for gram, positions in postings.items()}
        self._n_grams = np.array([len(trigrams(key)) for key in self._keys])
        self._key_raters = np.array([max(raters[m] for m in self._movies[k]) for k in self._keys])

    def match(self, title: str) -> int:
        name, year = split_year(title)
        key = title_key(name)
        following = itertools.islice(self._keys, bisect.bisect_left(self._keys, key + " "), None)
        prefixed = itertools.takewhile(lambda other: other.startswith(key + " "), following)
        candidates = self._movies.get(key) or [m for k in prefixed for m in self._movies[k]]
        if candidates:
            return self._most_rated(candidates, year)
        ranked = self._closest(key)
        if ranked[0][0] >= MATCH_CUTOFF:
            return self._most_rated([m for ratio, m in ranked if ratio == ranked[0][0]], year)
        suggestions = list(dict.fromkeys(self._titles[m] for _, m in ranked))[:5]
        raise UnknownItemError("title", "no movie title is close to this one", suggestions)

    def _most_rated(self, movies: Sequence[int], year: int | None) -> int:
        same_year = [m for m in movies if self._years[m] == year]
        return max(same_year or movies, key=lambda m: (self._raters[m], -m))

    def _closest(self, key: str) -> list[tuple[float, int]]:
        """(difflib ratio, movie) of the shortlist, closest first, then most-rated."""
        grams = [self._postings[gram] for gram in trigrams(key) if gram in self._postings]
        shared = np.bincount(np.concatenate([np.empty(0, np.int64), *grams]),
                             minlength=len(self._keys))  # fmt: skip
        dice = 2 * shared / (len(trigrams(key)) + self._n_grams)
        shortlist = np.lexsort((-self._key_raters, -dice))[:SHORTLIST]
        ranked = [
            (difflib.SequenceMatcher(None, key, self._keys[p]).ratio(), movie)
            for p in shortlist for movie in self._movies[self._keys[p]]
        ]  # fmt: skip
        return sorted(ranked, key=lambda pair: (-pair[0], -self._raters[pair[1]]))
