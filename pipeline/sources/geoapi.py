"""Communes geocoded online by geo.api.gouv.fr, with a JSON disk cache.

The online twin of :func:`pipeline.steps.geocode.geocode_sites`: same output columns, same
rule (a name that matches nothing, or communes in several départements, is reported, never
guessed). Answers are cached under the exact query sent, so that two spellings never share an
answer; a cache that cannot be read or written is a warning, never a failure.
``ECOLES_MAP_GEOAPI_URL`` points the geocoder at a mirror.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from pipeline.atomic import write_text
from pipeline.errors import GeocodingError, PipelineError
from pipeline.schema import GEOCODE_AMBIGUOUS as AMBIGUOUS
from pipeline.schema import GEOCODE_NOT_FOUND as NOT_FOUND
from pipeline.schema import GEOCODE_OK as OK
from pipeline.sources.http import (
    GEOAPI_URL_ENV,
    HttpClient,
    base_url_from_env,
    client_for,
    rebase,
    resolve_cache_dir,
    source_entry,
)
from pipeline.steps.geocode import FormerName, fold_name, former_names
from pipeline.steps.ingest import normalize_departement
from pipeline.textsafe import CONTROL_CHARACTERS, clean_text

if TYPE_CHECKING:
    import pandas as pd
    import requests

log = logging.getLogger(__name__)

GEO_API_KEY: Final = "geo_api_gouv_communes"
GEO_API_METHOD: Final = "geo.api.gouv.fr"
GEO_API_FIELDS: Final = "code,nom,codeDepartement,centre,population"


@dataclass(frozen=True)
class CommuneCandidate:
    """One commune proposed by geo.api.gouv.fr."""

    code_insee: str
    nom: str
    departement: str
    longitude: float | None
    latitude: float | None
    population: int | None

    def __str__(self) -> str:
        return f"{self.nom} ({self.departement})"


def _departement(value: object) -> str | None:
    """Canonical département code ("1" → "01", "2a" → "2A"), None when blank or unknown."""
    if not isinstance(value, str) or not value.strip():
        return None
    return normalize_departement(value)


class GeoApiGeocoder:
    """Commune geocoder on geo.api.gouv.fr, with a JSON disk cache and rate limiting.

    Parameters
    ----------
    cache_dir
        Cache folder (see :func:`resolve_cache_dir`); answers go to
        ``geo.api.gouv.fr.json`` in it.
    session, client
        HTTP session or client; a new one by default (10 requests/s at most).
    base_url
        Replaces scheme and host of the API (tests: a local server); default
        ``$ECOLES_MAP_GEOAPI_URL``, else the address of ``sources.json``.
    """

    #: Largest answer accepted, in bytes (five communes are about a kilobyte).
    max_bytes: int = 512 * 1024

    def __init__(self, *, cache_dir: str | os.PathLike[str] | None = None,
                 session: requests.Session | None = None, client: HttpClient | None = None,
                 base_url: str | None = None) -> None:
        self.http = client_for(client, session)
        template = urlsplit(source_entry(GEO_API_KEY)["url"])
        self.url = rebase(urlunsplit((template.scheme, template.netloc, template.path, "",
                                       "")), base_url_from_env(GEOAPI_URL_ENV, base_url))
        self.cache_path = resolve_cache_dir(cache_dir) / "geo.api.gouv.fr.json"
        self._cache: dict[str, Any] | None = None
        #: False once the cache file proved unwritable: answers are then kept in memory only.
        self._writable = True

    def _load(self) -> dict[str, Any]:
        if self._cache is None:
            self._cache = {}
            if self.cache_path.exists():
                try:
                    data = json.loads(self.cache_path.read_text(encoding="utf-8"))
                    if not isinstance(data, dict):
                        raise ValueError("pas un objet JSON")
                    # Keys are the exact queries sent ("boost=...&nom=Lyon"); older caches
                    # keyed on a folded name, which let "Lyon." answer for "Lyon".
                    self._cache = {k: v for k, v in data.items() if "nom=" in k}
                except (OSError, ValueError) as exc:
                    log.warning("cache du géocodeur endommagé ignoré : %s (%s)",
                                self.cache_path, exc)
        return self._cache

    def _save(self, cache: dict[str, Any]) -> None:
        if not self._writable:
            return
        text = json.dumps(cache, ensure_ascii=False, sort_keys=True, indent=1) + "\n"
        try:
            write_text(text, self.cache_path)
        except (PipelineError, OSError) as exc:
            self._writable = False
            log.warning("cache du géocodeur inutilisable : %s (%s) ; les réponses ne sont "
                        "gardées que pour cette exécution. Choisissez un autre dossier avec "
                        "--cache-dir ou la variable ECOLES_MAP_CACHE.", self.cache_path, exc)

    def candidates(self, name: str, departement: str | None = None
                   ) -> list[CommuneCandidate]:
        """Return the communes the API proposes for ``name`` (in ``departement`` if given).

        Parameters
        ----------
        name
            Commune name as typed.
        departement
            Canonical code of the département to search in, if known.

        Returns
        -------
        list of CommuneCandidate
            At most five, by decreasing relevance (population-boosted).

        Raises
        ------
        NetworkError
            If the API cannot be reached.
        GeocodingError
            If the API answers something that is not a list of communes.
        """
        params = {"nom": clean_text(name).strip(), "fields": GEO_API_FIELDS,
                  "boost": "population", "limit": "5"}
        if departement:
            params["codeDepartement"] = departement
        key = urlencode(sorted(params.items()))
        cache = self._load()
        if key in cache:
            try:
                return _candidates(cache[key])
            except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
                log.warning("entrée du cache du géocodeur %s inutilisable pour %r (%s) ; "
                            "nouvelle requête", self.cache_path, name, exc)
                del cache[key]
        response = self.http.get(self.url, params=params, max_bytes=self.max_bytes)
        try:
            answer = response.json()
            candidates = _candidates(answer)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise GeocodingError(
                f"{response.url}: réponse inattendue de geo.api.gouv.fr ({exc}) ; "
                "réessayez plus tard ou utilisez `--geocoder embedded`."
            ) from exc
        cache[key] = answer
        self._save(cache)
        return candidates


def _candidates(answer: object) -> list[CommuneCandidate]:
    """Turn an answer of the API (a JSON list of communes) into candidates."""
    if not isinstance(answer, list):
        raise ValueError("pas une liste JSON")
    return [_candidate(item) for item in answer]


@functools.cache
def _former_gazetteer() -> pd.DataFrame:
    """Return the embedded gazetteer's former names and current communes (read once)."""
    from pipeline.schema import GAZETTEER_FORMER
    from pipeline.sources.embedded import read_gazetteer

    gazetteer = read_gazetteer()
    keep = gazetteer["type"].isin([GAZETTEER_FORMER, "COM"]).to_numpy()
    return gazetteer.loc[keep].reset_index(drop=True)


def _candidate(item: Mapping[str, Any]) -> CommuneCandidate:
    """Turn one commune of the API answer into a CommuneCandidate."""
    coords = (item.get("centre") or {}).get("coordinates") or [None, None]
    if CONTROL_CHARACTERS.search(str(item["nom"])):  # would reach the SVG and the tables
        raise ValueError(f"nom de commune avec un caractère de contrôle : {item['nom']!r}")
    return CommuneCandidate(
        code_insee=str(item["code"]), nom=str(item["nom"]),
        departement=str(item.get("codeDepartement", "")),
        longitude=None if coords[0] is None else float(coords[0]),
        latitude=None if coords[1] is None else float(coords[1]),
        population=item.get("population"),
    )


def choose_commune(name: str, departement: str | None,
                   candidates: Iterable[CommuneCandidate], *,
                   former: Sequence[FormerName] = ()) -> tuple[str, CommuneCandidate | None, str]:
    """Pick the commune whose name matches ``name`` exactly once folded, never guessing.

    The API knows current communes only. When none of its answers bears the name and
    ``name`` is a former name of the département (:func:`pipeline.steps.geocode.former_names`),
    the embedded gazetteer's rule applies: the one current commune it leads to is accepted
    if the API proposed it; several current communes make the name ambiguous.

    Parameters
    ----------
    name
        Commune name as typed.
    departement
        Canonical département code, or None.
    candidates
        What the API proposed (fresh or from the cache).
    former
        The current communes ``name`` leads to as a former name in ``departement``.

    Returns
    -------
    status : str
        ``"ok"``, ``"ambigu"`` (several exact matches, in different départements) or
        ``"introuvable"`` (no exact match: the API's fuzzy suggestions are not accepted).
    commune : CommuneCandidate or None
        The match when the status is ``"ok"``.
    methode : str
        ``"geo.api.gouv.fr"``, followed for a failure by why and what was proposed.
    """
    proposed = list(candidates)
    wanted = fold_name(name)
    exact = [c for c in proposed if fold_name(c.nom) == wanted
             and (departement is None or c.departement == departement)]
    if len({c.code_insee for c in exact}) > 1:
        listed = ", ".join(map(str, exact))
        return AMBIGUOUS, None, f"{GEO_API_METHOD} : plusieurs communes ({listed})"
    if not exact and former:
        if len({f.code_insee for f in former}) > 1:
            listed = ", ".join(f"{f.code_insee} {f.nom_commune} ({f.departement})"
                               for f in former)
            return AMBIGUOUS, None, (f"{GEO_API_METHOD} : ancien nom de plusieurs communes "
                                     f"actuelles ({listed})")
        match = [c for c in proposed if c.code_insee == former[0].code_insee]
        if match:
            return OK, match[0], f"{GEO_API_METHOD}, {former[0].description}"
        return NOT_FOUND, None, (f"{GEO_API_METHOD} : {former[0].description}, commune "
                                 "absente des réponses")
    if not exact:
        listed = ", ".join(map(str, proposed))
        why = f"aucun nom identique (proposé : {listed})" if listed else "aucune commune"
        return NOT_FOUND, None, f"{GEO_API_METHOD} : {why}"
    return OK, exact[0], GEO_API_METHOD


def geocode_online(sites: pd.DataFrame, *, cache_dir: str | os.PathLike[str] | None = None,
                   session: requests.Session | None = None,
                   geocoder: GeoApiGeocoder | None = None) -> pd.DataFrame:
    """Geocode the ``commune`` (and ``departement``) of each site with geo.api.gouv.fr.

    The online twin of :func:`pipeline.steps.geocode.geocode_sites`: same output columns, same
    rule (a name that matches nothing, or communes in several départements, is reported,
    never guessed). A name the API does not know that is a former name of its
    département in the embedded gazetteer resolves to the one current commune it leads to
    (asked of the API by its current name when not proposed), ``ambigu`` when it leads to
    several; the rule is applied to the answers each time, fresh or from the cache.

    Parameters
    ----------
    sites
        Registry rows; needs ``commune``, uses ``departement`` when present. Not modified.
    cache_dir, session
        Passed to a new :class:`GeoApiGeocoder` unless ``geocoder`` is given.
    geocoder
        The geocoder to use (tests inject one).

    Returns
    -------
    pandas.DataFrame
        A copy of ``sites`` plus ``code_insee``, ``nom_commune``, ``longitude``,
        ``latitude`` (WGS84, the API's commune centre), ``methode`` (``"geo.api.gouv.fr"``,
        with the reason when unresolved) and ``statut_geocodage`` (``"ok"``, ``"ambigu"``,
        ``"introuvable"``). Unresolved rows have empty code, name and coordinates.

    Raises
    ------
    GeocodingError
        If ``sites`` has no ``commune`` column.
    NetworkError
        If the API cannot be reached.
    """
    import numpy as np

    if "commune" not in sites.columns:
        raise GeocodingError(
            f"pas de colonne 'commune' parmi {', '.join(map(str, sites.columns))} ; "
            "géocodez le registre validé (sortie de `ecoles-map ingest`)."
        )
    coder = geocoder or GeoApiGeocoder(cache_dir=cache_dir, session=session)
    deps = sites["departement"].tolist() if "departement" in sites.columns else [None] * len(
        sites)
    results = []
    for raw_name, raw_dep in zip(sites["commune"].tolist(), deps, strict=True):
        name = raw_name if isinstance(raw_name, str) else ""
        dep = _departement(raw_dep)
        found = coder.candidates(name, dep) if name.strip() else []
        status, commune, methode = choose_commune(name, dep, found)
        former = former_names(name, dep, _former_gazetteer()) \
            if status == NOT_FOUND and dep and name.strip() \
            else []
        if former:
            if len({f.code_insee for f in former}) == 1 and not any(
                    c.code_insee == former[0].code_insee for c in found):
                # Ask for the current commune by its name (cached like any answer).
                found = [*found, *coder.candidates(former[0].nom_commune, dep)]
            status, commune, methode = choose_commune(name, dep, found, former=former)
        if status != OK:
            log.warning("commune %r (département %s) : %s", name, dep or "?", methode)
        results.append((commune, methode, status))
    out = sites.copy()
    out["code_insee"] = [c.code_insee if c else None for c, _, _ in results]
    out["nom_commune"] = [c.nom if c else None for c, _, _ in results]
    out["longitude"] = np.array([c.longitude if c and c.longitude is not None else np.nan
                                 for c, _, _ in results], dtype=float)
    out["latitude"] = np.array([c.latitude if c and c.latitude is not None else np.nan
                                for c, _, _ in results], dtype=float)
    out["methode"] = [m for _, m, _ in results]
    out["statut_geocodage"] = [s for _, _, s in results]
    return out
