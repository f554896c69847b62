"""Online paths to the authoritative services: polite HTTP, cached and resumable downloads.

Every source also has an embedded default that needs no network (GEODATA.md §1); this module
is the other path. It offers:

- :class:`HttpClient`, a :class:`requests.Session` with a User-Agent naming the project,
  timeouts, a client-side rate limit and retries with backoff on HTTP 429 and 5xx (honouring
  ``Retry-After``), which turns an unreachable host into a :class:`NetworkError` that says
  how to work offline;
- :func:`resolve_cache_dir`, the on-disk cache (``ECOLES_MAP_CACHE`` or the user cache folder);
- :func:`download`, a resumable (HTTP Range), size- and checksum-verified download;
- :func:`fetch_ign_departements`, IGN ADMIN EXPRESS COG CARTO départements, cached;
- :class:`GeoApiGeocoder` and :func:`geocode_online`, communes via geo.api.gouv.fr, cached;
- :func:`geocode_address`, addresses via the IGN Géoplateforme geocoder.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

import requests

from pipeline import __version__
from pipeline.errors import BoundaryError, GeocodingError, NetworkError
from pipeline.io import write_text

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

log = logging.getLogger(__name__)

#: Callback ``progress(bytes_done, bytes_total)``; ``bytes_total`` is None when unknown.
Progress = Callable[[int, int | None], None]

# --- Defaults (to move to pipeline/data/sources.json, same keys) -------------------------------
USER_AGENT: Final = (
    f"ecoles-map/{__version__} (écoles de production coverage map; python-requests)"
)
#: (connect, read) timeouts in seconds.
DEFAULT_TIMEOUT: Final = (10.0, 60.0)
DEFAULT_RETRIES: Final = 4
DEFAULT_BACKOFF: Final = 1.0
#: Longest wait we accept from a Retry-After header, in seconds.
MAX_RETRY_AFTER: Final = 120.0
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: The IGN geocoder allows at most 50 requests per second (HTTP 429 beyond); we stay below.
MAX_RATE: Final = 50.0
DEFAULT_RATE: Final = 10.0
CACHE_ENV: Final = "ECOLES_MAP_CACHE"
#: Download chunk; a cut connection loses at most one chunk of what was received.
CHUNK_SIZE: Final = 1 << 16
OFFLINE_HINT: Final = (
    "Check your internet connection (or proxy), or work offline with the embedded defaults: "
    "`--boundaries embedded` / `--geocoder embedded`."
)

GEOPF_URL: Final = "https://data.geopf.fr"
IGN_RESOURCE: Final = "ADMIN-EXPRESS-COG-CARTO"
IGN_DOWNLOAD_PATH: Final = "/telechargement/download/{resource}/{edition}/{edition}.7z"
IGN_WFS_PATH: Final = "/wfs/ows"
IGN_WFS_TYPENAME: Final = "ADMINEXPRESS-COG-CARTO.LATEST:departement"
IGN_LICENCE: Final = "Licence Ouverte 2.0"
#: ADMIN EXPRESS COG CARTO 3.x editions, France entière, WGS84 (GEODATA.md §2).
IGN_EDITIONS: Final[dict[str, str]] = {
    "2021": "ADMIN-EXPRESS-COG-CARTO_3-0__SHP_WGS84G_FRA_2021-05-19",
    "2022": "ADMIN-EXPRESS-COG-CARTO_3-1__SHP_WGS84G_FRA_2022-04-15",
    "2023": "ADMIN-EXPRESS-COG-CARTO_3-2__SHP_WGS84G_FRA_2023-05-03",
    "2024": "ADMIN-EXPRESS-COG-CARTO_3-2__SHP_WGS84G_FRA_2024-02-22",
    "2025": "ADMIN-EXPRESS-COG-CARTO_3-2__SHP_WGS84G_FRA_2025-04-02",
}
LATEST: Final = "latest"
#: Refuse to unpack more than this from an archive (the real DEPARTEMENT layer is ~50 MB).
MAX_EXTRACT_BYTES: Final = 2 * 1024**3
SHAPEFILE_PARTS: Final = (".shp", ".shx", ".dbf", ".prj", ".cpg")

#: The 101 départements: 01-95 with 2A/2B instead of 20, and five overseas.
DEPARTEMENT_CODES: Final = tuple(
    sorted(
        [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
        + ["971", "972", "973", "974", "976"]
    )
)
#: One rename map for both IGN schemas: 3.x shapefile and 4.0 GeoPackage/WFS.
IGN_RENAME: Final[dict[str, str]] = {
    "INSEE_DEP": "code", "NOM": "nom", "code_insee": "code", "nom_officiel": "nom",
}

GEO_API_URL: Final = "https://geo.api.gouv.fr"
GEO_API_METHOD: Final = "geo.api.gouv.fr"
GEO_API_FIELDS: Final = "code,nom,codeDepartement,centre,population"
GEOCODER_PATH: Final = "/geocodage/search"
GEOCODED_COLUMNS: Final = (
    "code_insee", "nom_commune", "longitude", "latitude", "methode", "statut_geocodage",
)


# --- Cache folder -------------------------------------------------------------------------------
def resolve_cache_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the cache folder: ``path``, else ``$ECOLES_MAP_CACHE``, else the user cache.

    Parameters
    ----------
    path
        Explicit folder (the CLI's ``--cache-dir``); wins over everything.

    Returns
    -------
    Path
        The folder (not created here).
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("ecoles-map"))


# --- HTTP ---------------------------------------------------------------------------------------
class RateLimiter:
    """Space calls at least ``1 / rate`` seconds apart (thread-safe).

    Parameters
    ----------
    rate
        Largest number of calls per second.
    clock, sleep
        Time source and sleep function, injectable so that tests run instantly.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next call is allowed."""
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


def make_session() -> requests.Session:
    """Return a :class:`requests.Session` whose User-Agent names the project."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


def _retry_after(response: requests.Response, *, now: Callable[[], float] = time.time
                 ) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (seconds or HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def _is_connect_failure(exc: requests.RequestException) -> bool:
    """Tell a refused connection or DNS failure (offline: do not retry) from a cut one."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if not isinstance(exc, requests.ConnectionError):
        return False
    import urllib3.exceptions

    reason: Any = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


class HttpClient:
    """A polite HTTP client: rate limit, timeouts, retries with backoff, clear errors.

    Parameters
    ----------
    session
        Session to send requests with; by default a new one from :func:`make_session`.
    rate
        Largest number of requests per second (at most :data:`MAX_RATE`).
    retries
        How many times a request is retried after HTTP 429/5xx, a timeout or a cut.
    backoff
        First wait between attempts in seconds, doubled at each attempt; ``Retry-After`` wins.
    timeout
        ``(connect, read)`` timeouts in seconds.
    sleep, clock
        Injectable for tests.
    """

    def __init__(self, *, session: requests.Session | None = None, rate: float = DEFAULT_RATE,
                 retries: int = DEFAULT_RETRIES, backoff: float = DEFAULT_BACKOFF,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < rate <= MAX_RATE:
            raise ValueError(f"rate must be in (0, {MAX_RATE:g}] requests/s, got {rate!r}")
        self.session = session if session is not None else make_session()
        if self.session.headers.get("User-Agent", "").startswith("python-requests"):
            self.session.headers["User-Agent"] = USER_AGENT
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.limiter = RateLimiter(rate, clock=clock, sleep=sleep)
        self.requests_sent = 0

    def get(self, url: str, *, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None, stream: bool = False,
            ok_statuses: Collection[int] = (200,)) -> requests.Response:
        """Send a GET, retrying on 429/5xx, timeouts and cut connections.

        Parameters
        ----------
        url
            Address to fetch.
        params, headers
            Query parameters and extra headers.
        stream
            Do not read the body at once (for downloads).
        ok_statuses
            Statuses returned to the caller; any other final status raises.

        Returns
        -------
        requests.Response
            The response, with a status in ``ok_statuses``.

        Raises
        ------
        NetworkError
            If the host cannot be reached, or the service still fails after the retries, or
            answers with an unexpected status.
        """
        what = url if not params else f"{url}?{urlencode(params)}"
        last = ""
        for attempt in range(self.retries + 1):
            self.limiter.wait()
            self.requests_sent += 1
            delay = self.backoff * 2**attempt
            try:
                response = self.session.get(url, params=params, headers=headers,
                                            stream=stream, timeout=self.timeout)
            except requests.RequestException as exc:
                if _is_connect_failure(exc):
                    raise NetworkError(
                        f"cannot reach {what}: {_short(exc)}. {OFFLINE_HINT}"
                    ) from exc
                last = _short(exc)
                log.warning("GET %s failed (%s), attempt %d of %d", what, last, attempt + 1,
                            self.retries + 1)
            else:
                if response.status_code in ok_statuses:
                    return response
                last = f"HTTP {response.status_code} {response.reason}"
                if response.status_code not in RETRY_STATUSES:
                    response.close()
                    raise NetworkError(
                        f"{what} answered {last}; the service or its address may have "
                        f"changed. {OFFLINE_HINT}"
                    )
                wait = _retry_after(response)
                if wait is not None:
                    delay = min(wait, MAX_RETRY_AFTER)
                response.close()
                log.warning("GET %s answered %s, attempt %d of %d", what, last, attempt + 1,
                            self.retries + 1)
            if attempt < self.retries:
                self.sleep(delay)
        raise NetworkError(
            f"{what} still failing after {self.retries + 1} attempts (last: {last}). "
            f"Try again later. {OFFLINE_HINT}"
        )


def _short(exc: BaseException) -> str:
    """Describe a requests exception in one line."""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _client(client: HttpClient | None, session: requests.Session | None) -> HttpClient:
    """Use ``client`` if given, else wrap ``session`` (or a new one) in an HttpClient."""
    return client if client is not None else HttpClient(session=session)


# --- Downloads ----------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK_SIZE), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_file(path: Path, *, expected_size: int | None, sha256: str | None) -> str | None:
    """Return what is wrong with a downloaded file, or None if it passes the checks."""
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        return f"size {size} bytes, expected {expected_size}"
    if sha256 is not None:
        actual = _sha256(path)
        if actual.lower() != sha256.lower():
            return f"sha256 {actual}, expected {sha256}"
    return None


def _content_total(response: requests.Response, start: int) -> int | None:
    """Total size of the resource from Content-Range or Content-Length, if announced."""
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and not content_range.endswith("/*"):
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return start + int(length) if length is not None else None


def download(url: str, dest: str | os.PathLike[str], *, expected_size: int | None = None,
             sha256: str | None = None, progress: Progress | None = None,
             client: HttpClient | None = None, session: requests.Session | None = None
             ) -> Path:
    """Download ``url`` to ``dest``, resumably, and verify it before it takes its name.

    Bytes go to ``dest.part``. If a ``.part`` exists from a cut download, the transfer
    resumes with an HTTP ``Range`` request when the server answers 206, and restarts
    cleanly when it answers 200. The result is checked against the announced length,
    ``expected_size`` and ``sha256``, then renamed to ``dest``. A ``dest`` already present
    and passing the checks is returned without any request.

    Parameters
    ----------
    url
        Address of the file.
    dest
        Final path.
    expected_size
        Size in bytes, if known.
    sha256
        Hex digest, if known.
    progress
        Called as ``progress(bytes_done, bytes_total)`` as data arrives.
    client, session
        HTTP client (or session to wrap in one); a new one by default.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    NetworkError
        If the connection fails or is cut (the ``.part`` stays for the next try), or the file
        fails a check (the ``.part`` is deleted).
    """
    dest = Path(dest)
    if dest.exists() and _check_file(dest, expected_size=expected_size, sha256=sha256) is None:
        log.info("%s already downloaded", dest)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    http = _client(client, session)
    start = part.stat().st_size if part.exists() else 0
    if expected_size is not None and start > expected_size:
        part.unlink()
        start = 0
    headers = {"Range": f"bytes={start}-"} if start else None
    response = http.get(url, headers=headers, stream=True, ok_statuses=(200, 206, 416))
    with response:
        if response.status_code == 416:  # our .part is not a prefix of this resource
            log.warning("server refused to resume %s; restarting the download", url)
            part.unlink(missing_ok=True)
            return download(url, dest, expected_size=expected_size, sha256=sha256,
                            progress=progress, client=http)
        if response.status_code == 206 and response.headers.get(
                "Content-Range", "").startswith(f"bytes {start}-"):
            mode = "ab"
            log.info("resuming %s at byte %d", url, start)
        else:  # 200: the server ignores Range, start again from zero
            start, mode = 0, "wb"
        total = _content_total(response, start)
        done = start
        try:
            with part.open(mode) as f:
                if progress is not None:
                    progress(done, total)
                for chunk in response.iter_content(CHUNK_SIZE):
                    f.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        except requests.RequestException as exc:
            raise NetworkError(
                f"download of {url} was cut after {done} bytes ({_short(exc)}); the partial "
                f"file {part} is kept: run the same command again to resume. {OFFLINE_HINT}"
            ) from exc
    if total is not None and done != total:
        raise NetworkError(
            f"download of {url} stopped at {done} of {total} bytes; the partial file {part} "
            f"is kept: run the same command again to resume. {OFFLINE_HINT}"
        )
    problem = _check_file(part, expected_size=expected_size, sha256=sha256)
    if problem is not None:
        part.unlink()
        raise NetworkError(
            f"download of {url} is corrupt ({problem}); it was deleted. Run the command "
            "again; if it persists, the published file changed: update its size and sha256 "
            "in pipeline/data/sources.json."
        )
    os.replace(part, dest)
    return dest


# --- IGN départements ---------------------------------------------------------------------------
def ign_provenance(edition: str, url: str) -> dict[str, str]:
    """Return the ``attrs`` of départements fetched from IGN.

    Parameters
    ----------
    edition
        ``"2021"``... or ``"latest"``.
    url
        Where the data came from.

    Returns
    -------
    dict
        ``source`` (the attribution line), ``edition``, ``licence``, ``url``.
    """
    full = IGN_EDITIONS.get(edition, "LATEST (WFS)")
    return {
        "source": f"IGN – ADMIN EXPRESS COG CARTO {edition}",
        "edition": full,
        "licence": IGN_LICENCE,
        "url": url,
    }


def _normalize_departements(raw: gpd.GeoDataFrame, *, origin: str) -> gpd.GeoDataFrame:
    """Rename either IGN schema to ``code``/``nom``/geometry, MultiPolygon EPSG:4326, sorted.

    Private on purpose: ``pipeline.boundaries.normalize_departements`` is the public one.
    """
    import geopandas as gpd
    import shapely

    frame = raw.rename(columns=IGN_RENAME)
    missing = [c for c in ("code", "nom") if c not in frame.columns]
    if missing:
        raise BoundaryError(
            f"{origin}: no column {' or '.join(missing)} (expected INSEE_DEP/NOM or "
            f"code_insee/nom_officiel; found {', '.join(map(str, raw.columns))}). The IGN "
            "schema may have changed; use `--boundaries embedded`."
        )
    if frame.crs is None:
        raise BoundaryError(f"{origin}: the layer has no coordinate reference system")
    frame = frame.to_crs("EPSG:4326")
    geometry = [shapely.MultiPolygon([g]) if isinstance(g, shapely.Polygon) else g
                for g in frame.geometry]
    out = gpd.GeoDataFrame(
        {"code": frame["code"].astype(str).str.strip().str.upper(),
         "nom": frame["nom"].astype(str)},
        geometry=gpd.GeoSeries(geometry, crs="EPSG:4326", index=frame.index),
    )
    return out.sort_values("code", kind="stable").reset_index(drop=True)


def _validate_departements(departements: gpd.GeoDataFrame, *, origin: str) -> None:
    """Raise BoundaryError unless the 101 expected codes are there, once each."""
    codes = list(departements["code"])
    missing = sorted(set(DEPARTEMENT_CODES) - set(codes))
    extra = sorted(set(codes) - set(DEPARTEMENT_CODES))
    twice = sorted({c for c in codes if codes.count(c) > 1})
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected codes: {', '.join(extra)}")
    if twice:
        problems.append(f"repeated codes: {', '.join(twice)}")
    if departements.geometry.isna().any() or departements.geometry.is_empty.any():
        problems.append("some départements have no geometry")
    if problems:
        raise BoundaryError(
            f"{origin}: {len(codes)} départements instead of the {len(DEPARTEMENT_CODES)} "
            f"expected ({'; '.join(problems)}). Try another `--edition`, or use "
            "`--boundaries embedded`."
        )


def _read_cached(path: Path, edition: str, url: str) -> gpd.GeoDataFrame | None:
    """Read a cached normalised layer; None (after a warning) if absent or damaged."""
    if not path.exists():
        return None
    import pyogrio

    try:
        cached = pyogrio.read_dataframe(path)
        _validate_departements(cached, origin=str(path))
    except Exception as exc:  # any damage means: fetch again
        log.warning("cached départements %s are unreadable or incomplete (%s); "
                    "downloading them again", path, exc)
        path.unlink(missing_ok=True)
        return None
    cached = cached.sort_values("code", kind="stable").reset_index(drop=True)
    cached.attrs.update(ign_provenance(edition, url))
    return cached


def _extract_departement_layer(archive: Path, workdir: Path) -> Path:
    """Unpack the DEPARTEMENT shapefile from an IGN 7z archive; return its .shp path."""
    import py7zr

    try:
        with py7zr.SevenZipFile(archive, max_extract_size=MAX_EXTRACT_BYTES) as z:
            names = z.getnames()
            stems = {str(PurePosixPath(n).with_suffix("")) for n in names
                     if PurePosixPath(n).name.upper() == "DEPARTEMENT.SHP"}
            targets = [n for n in names
                       if str(PurePosixPath(n).with_suffix("")) in stems
                       and PurePosixPath(n).suffix.lower() in SHAPEFILE_PARTS]
            if targets:
                z.extract(path=workdir, targets=targets)
    except (py7zr.exceptions.ArchiveError, py7zr.exceptions.Bad7zFile,
            py7zr.exceptions.CrcError, EOFError, OSError) as exc:
        raise BoundaryError(
            f"{archive}: damaged 7z archive ({type(exc).__name__}: {exc}); it was deleted, "
            "run the command again to download it anew."
        ) from exc
    found = sorted(workdir.glob("**/DEPARTEMENT.shp"))
    if len(found) != 1:
        raise BoundaryError(
            f"{archive}: expected one DEPARTEMENT.shp in the archive, found {len(found)} "
            f"({', '.join(str(p.relative_to(workdir)) for p in found) or 'none'}). The "
            "delivery format may have changed; use `--boundaries embedded`."
        )
    return found[0]


def _swap_if_latlon(departements: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Swap axes if a service answered in latitude/longitude order (Paris at x > 40)."""
    import shapely

    paris = departements.loc[departements["code"] == "75", "geometry"]
    if len(paris) and paris.iloc[0].representative_point().x > 40:
        log.warning("WFS answered in latitude/longitude order; swapping axes")
        departements = departements.copy()
        departements.geometry = shapely.transform(
            departements.geometry.values, lambda xy: xy[:, ::-1])
    return departements


def _write_gpkg_atomically(frame: gpd.GeoDataFrame, target: Path) -> None:
    """Write a GeoPackage next to ``target`` then rename it (GDAL wants a .gpkg suffix)."""
    import pyogrio

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".gpkg", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        tmp.unlink()
        pyogrio.write_dataframe(frame, tmp, driver="GPKG", layer="departements")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def fetch_ign_departements(*, edition: str = "2021",
                           cache_dir: str | os.PathLike[str] | None = None,
                           session: requests.Session | None = None,
                           progress: Progress | None = None,
                           client: HttpClient | None = None, base_url: str = GEOPF_URL,
                           refresh: bool = False) -> gpd.GeoDataFrame:
    """Return IGN ADMIN EXPRESS COG CARTO départements, from the cache or the Géoplateforme.

    Editions ``"2021"``...``"2025"`` download the 3.x 7z archive (hundreds of MB, resumable),
    read ``**/DEPARTEMENT.shp`` from it and delete it; ``"latest"`` asks the WFS for the 101
    départements of the current edition. The normalised result is cached as a small
    GeoPackage per edition, so later calls make no request. A damaged cache is detected,
    logged and fetched again.

    Parameters
    ----------
    edition
        ``"2021"`` (the vintage of the 2021 annex), ``"2022"``...``"2025"`` or ``"latest"``.
    cache_dir
        Cache folder (see :func:`resolve_cache_dir`).
    session, client
        HTTP session or client (tests inject one); a new one by default.
    progress
        Download progress callback ``(bytes_done, bytes_total)``.
    base_url
        Root of the Géoplateforme (tests point it at a local server).
    refresh
        Ignore the cached layer and fetch again.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code``, ``nom``, geometry (MultiPolygon, EPSG:4326), sorted by ``code``; ``attrs``
        carry the provenance (:func:`ign_provenance`).

    Raises
    ------
    BoundaryError
        If the edition is unknown, or the data is damaged or lacks départements.
    NetworkError
        If the service cannot be reached.
    """
    import pyogrio

    if edition != LATEST and edition not in IGN_EDITIONS:
        raise BoundaryError(
            f"unknown IGN edition {edition!r}; choose one of "
            f"{', '.join([*IGN_EDITIONS, LATEST])}."
        )
    folder = resolve_cache_dir(cache_dir) / "ign"
    cached_path = folder / f"departements-{edition}.gpkg"
    base = base_url.rstrip("/")
    if edition == LATEST:
        url = base + IGN_WFS_PATH
    else:
        name = IGN_EDITIONS[edition]
        url = base + IGN_DOWNLOAD_PATH.format(resource=IGN_RESOURCE, edition=name)
    if not refresh:
        cached = _read_cached(cached_path, edition, url)
        if cached is not None:
            log.info("IGN départements %s read from the cache %s", edition, cached_path)
            return cached
    http = _client(client, session)
    if edition == LATEST:
        params = {"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature",
                  "TYPENAMES": IGN_WFS_TYPENAME, "OUTPUTFORMAT": "application/json",
                  "SRSNAME": "EPSG:4326"}
        response = http.get(url, params=params)
        try:
            raw = pyogrio.read_dataframe(response.content)
        except Exception as exc:
            raise BoundaryError(
                f"{url}: the WFS answer is not readable GeoJSON ({exc}); try again later or "
                "use `--boundaries embedded`."
            ) from exc
        departements = _swap_if_latlon(_normalize_departements(raw, origin=url))
    else:
        archive = folder / f"{IGN_EDITIONS[edition]}.7z"
        download(url, archive, progress=progress, client=http)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with tempfile.TemporaryDirectory(dir=folder, prefix=".extract-") as tmp:
                shp = _extract_departement_layer(archive, Path(tmp))
                raw = pyogrio.read_dataframe(shp)
                departements = _normalize_departements(raw, origin=f"{url} ({shp.name})")
        except BoundaryError:
            archive.unlink(missing_ok=True)
            raise
        archive.unlink(missing_ok=True)
    _validate_departements(departements, origin=url)
    _write_gpkg_atomically(departements, cached_path)
    departements.attrs.update(ign_provenance(edition, url))
    return departements


# --- Communes: geo.api.gouv.fr ------------------------------------------------------------------
def normalize_name(name: str) -> str:
    """Return a commune name folded for comparison: no case, accents, hyphens or apostrophes.

    Parameters
    ----------
    name
        A commune name as typed (``"St-Étienne"``, ``"OEUILLY"``...).

    Returns
    -------
    str
        E.g. ``"saint etienne"``.
    """
    text = name.casefold().replace("œ", "oe").replace("æ", "ae")
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))
    for sep in "-'’‘`.":
        text = text.replace(sep, " ")
    words = text.split()
    words = ["saint" if w == "st" else "sainte" if w == "ste" else w for w in words]
    return " ".join(words)


def canonical_departement(code: object) -> str | None:
    """Return a département code as ``"01"``, ``"2A"``, ``"971"``; None if blank."""
    if code is None:
        return None
    text = str(code).strip().upper()
    if not text or text in {"NAN", "<NA>", "NONE"}:
        return None
    return text.zfill(2) if text.isdigit() and len(text) < 2 else text


@dataclass(frozen=True)
class CommuneCandidate:
    """One commune proposed by geo.api.gouv.fr."""

    code_insee: str
    nom: str
    departement: str
    longitude: float | None
    latitude: float | None
    population: int | None


class GeoApiGeocoder:
    """Commune geocoder on geo.api.gouv.fr, with a JSON disk cache and rate limiting.

    Parameters
    ----------
    cache_dir
        Cache folder (see :func:`resolve_cache_dir`); answers go to
        ``geo.api.gouv.fr.json`` in it.
    session, client
        HTTP session or client; a new one by default.
    base_url
        Root of the API (tests point it at a local server).
    """

    def __init__(self, *, cache_dir: str | os.PathLike[str] | None = None,
                 session: requests.Session | None = None, client: HttpClient | None = None,
                 base_url: str = GEO_API_URL) -> None:
        self.http = _client(client, session)
        self.base_url = base_url.rstrip("/")
        self.cache_path = resolve_cache_dir(cache_dir) / "geo.api.gouv.fr.json"
        self._cache: dict[str, list[dict[str, Any]]] | None = None

    def _load(self) -> dict[str, list[dict[str, Any]]]:
        if self._cache is None:
            self._cache = {}
            if self.cache_path.exists():
                try:
                    data = json.loads(self.cache_path.read_text(encoding="utf-8"))
                    if not isinstance(data, dict):
                        raise ValueError("not a JSON object")
                    self._cache = data
                except (OSError, ValueError) as exc:
                    log.warning("ignoring damaged geocoder cache %s (%s)", self.cache_path,
                                exc)
        return self._cache

    def candidates(self, name: str, departement: str | None = None
                   ) -> list[CommuneCandidate]:
        """Return the communes the API proposes for ``name`` (in ``departement`` if given).

        Parameters
        ----------
        name
            Commune name as typed.
        departement
            Département code to restrict the search to, if known.

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
        dep = canonical_departement(departement)
        key = f"{normalize_name(name)}|{dep or ''}"
        cache = self._load()
        if key not in cache:
            params = {"nom": name.strip(), "fields": GEO_API_FIELDS, "boost": "population",
                      "limit": "5"}
            if dep:
                params["codeDepartement"] = dep
            response = self.http.get(f"{self.base_url}/communes", params=params)
            try:
                answer = response.json()
                if not isinstance(answer, list):
                    raise ValueError("not a JSON list")
            except ValueError as exc:
                raise GeocodingError(
                    f"{response.url}: unexpected answer from geo.api.gouv.fr ({exc}); try "
                    "again later or use `--geocoder embedded`."
                ) from exc
            cache[key] = answer
            write_text(json.dumps(cache, ensure_ascii=False, sort_keys=True, indent=1) + "\n",
                       self.cache_path)
        return [_candidate(item) for item in cache[key]]


def _candidate(item: Mapping[str, Any]) -> CommuneCandidate:
    """Turn one commune of the API answer into a CommuneCandidate."""
    coords = (item.get("centre") or {}).get("coordinates") or [None, None]
    return CommuneCandidate(
        code_insee=str(item["code"]), nom=str(item["nom"]),
        departement=str(item.get("codeDepartement", "")),
        longitude=None if coords[0] is None else float(coords[0]),
        latitude=None if coords[1] is None else float(coords[1]),
        population=item.get("population"),
    )


def choose_commune(name: str, departement: str | None,
                   candidates: Iterable[CommuneCandidate]
                   ) -> tuple[str, CommuneCandidate | None]:
    """Pick the commune that matches ``name`` exactly, never guessing.

    Parameters
    ----------
    name
        Commune name as typed.
    departement
        Département code, or None.
    candidates
        What the API proposed.

    Returns
    -------
    status : str
        ``"ok"``, ``"ambigu"`` (several exact matches in different départements) or
        ``"introuvable"`` (no exact match: fuzzy suggestions are not accepted).
    commune : CommuneCandidate or None
        The match when the status is ``"ok"``.
    """
    dep = canonical_departement(departement)
    wanted = normalize_name(name)
    exact = [c for c in candidates if normalize_name(c.nom) == wanted
             and (dep is None or c.departement == dep)]
    if not exact:
        return "introuvable", None
    if len({c.code_insee for c in exact}) > 1:
        return "ambigu", None
    return "ok", exact[0]


def geocode_online(sites: pd.DataFrame, *, cache_dir: str | os.PathLike[str] | None = None,
                   session: requests.Session | None = None,
                   geocoder: GeoApiGeocoder | None = None) -> pd.DataFrame:
    """Geocode the ``commune`` (and ``departement``) of each site with geo.api.gouv.fr.

    Parameters
    ----------
    sites
        Registry rows; needs ``commune``, uses ``departement`` when present.
    cache_dir, session
        Passed to a new :class:`GeoApiGeocoder` unless ``geocoder`` is given.
    geocoder
        The geocoder to use (tests inject one).

    Returns
    -------
    pandas.DataFrame
        A copy of ``sites`` plus ``code_insee``, ``nom_commune``, ``longitude``,
        ``latitude`` (WGS84), ``methode`` (``"geo.api.gouv.fr"``) and ``statut_geocodage``
        (``"ok"``, ``"ambigu"``, ``"introuvable"``), as the embedded geocoder produces.

    Raises
    ------
    GeocodingError
        If ``sites`` has no ``commune`` column.
    NetworkError
        If the API cannot be reached.
    """
    import pandas as pd

    if "commune" not in sites.columns:
        raise GeocodingError(
            "the sites have no 'commune' column; geocode the validated registry "
            "(output of `ecoles-map ingest`)."
        )
    coder = geocoder or GeoApiGeocoder(cache_dir=cache_dir, session=session)
    deps = sites["departement"] if "departement" in sites.columns else [None] * len(sites)
    rows = []
    for name, dep in zip(sites["commune"], deps, strict=True):
        found = coder.candidates(str(name), canonical_departement(dep))
        status, commune = choose_commune(str(name), dep, found)
        if status != "ok":
            log.warning("commune %r (département %s): %s; candidates: %s", name,
                        canonical_departement(dep) or "?",
                        status, ", ".join(f"{c.nom} ({c.departement})" for c in found) or
                        "none")
        rows.append((
            commune.code_insee if commune else None,
            commune.nom if commune else None,
            commune.longitude if commune else None,
            commune.latitude if commune else None,
            GEO_API_METHOD, status,
        ))
    out = sites.copy()
    added = pd.DataFrame(rows, columns=list(GEOCODED_COLUMNS), index=sites.index)
    for column in ("longitude", "latitude"):
        added[column] = added[column].astype("float64")
    for column in GEOCODED_COLUMNS:
        out[column] = added[column]
    return out


# --- Addresses: IGN Géoplateforme geocoder ------------------------------------------------------
def geocode_address(query: str, *, limit: int = 5, client: HttpClient | None = None,
                    session: requests.Session | None = None, base_url: str = GEOPF_URL
                    ) -> list[dict[str, Any]]:
    """Geocode an address with the IGN Géoplateforme, keeping the score.

    Parameters
    ----------
    query
        Free-text address, e.g. ``"8 rue de la Paix, Compiègne"``.
    limit
        Largest number of results.
    client, session
        HTTP client or session; a new one by default (10 requests/s at most).
    base_url
        Root of the Géoplateforme.

    Returns
    -------
    list of dict
        ``label``, ``score`` (0-1), ``type``, ``code_insee``, ``nom_commune``,
        ``longitude``, ``latitude``, best first.

    Raises
    ------
    NetworkError
        If the service cannot be reached.
    GeocodingError
        If it answers something that is not GeoJSON.
    """
    http = _client(client, session)
    url = base_url.rstrip("/") + GEOCODER_PATH
    response = http.get(url, params={"q": query, "limit": str(limit)})
    try:
        features = response.json()["features"]
        return [
            {"label": f["properties"].get("label"), "score": f["properties"].get("score"),
             "type": f["properties"].get("type"),
             "code_insee": f["properties"].get("citycode"),
             "nom_commune": f["properties"].get("city"),
             "longitude": float(f["geometry"]["coordinates"][0]),
             "latitude": float(f["geometry"]["coordinates"][1])}
            for f in features
        ]
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise GeocodingError(
            f"{url}: unexpected answer from the IGN geocoder ({exc}); try again later."
        ) from exc
