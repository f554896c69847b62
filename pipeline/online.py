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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from pipeline import __version__, ingest
from pipeline.config import sources
from pipeline.errors import BoundaryError, GeocodingError, NetworkError
from pipeline.geocode import AMBIGUOUS, NOT_FOUND, OK, FormerName, fold_name, former_names
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

#: Keys of pipeline/data/sources.json used here (URLs, editions, attributions live there).
IGN_ARCHIVES_KEY: Final = "ign_admin_express_cog_carto"
IGN_WFS_KEY: Final = "ign_wfs_departements"
GEO_API_KEY: Final = "geo_api_gouv_communes"
GEOCODER_KEY: Final = "geoplateforme_geocodage"
LATEST: Final = "latest"
#: Refuse to unpack more than this from an archive (the real DEPARTEMENT layer is ~50 MB).
MAX_EXTRACT_BYTES: Final = 2 * 1024**3
SHAPEFILE_PARTS: Final = (".shp", ".shx", ".dbf", ".prj", ".cpg")
#: Layer of the départements in ADMIN EXPRESS 4.0 GeoPackages.
GPKG_LAYER: Final = "departement"
#: Layer of the cached, normalised GeoPackage.
GPKG_CACHE_LAYER: Final = "departements"

#: The 101 départements: 01-95 with 2A/2B instead of 20, and five overseas.
DEPARTEMENT_CODES: Final = tuple(sorted(ingest.DEPARTEMENT_CODES))

GEO_API_METHOD: Final = "geo.api.gouv.fr"
GEO_API_FIELDS: Final = "code,nom,codeDepartement,centre,population"


def _source(key: str) -> dict[str, Any]:
    """Return one entry of ``sources.json``."""
    entry: dict[str, Any] = sources()["sources"][key]
    return entry


def _rebase(url: str, base_url: str | None) -> str:
    """Replace the scheme and host of ``url`` by ``base_url`` (tests use a local server)."""
    if base_url is None:
        return url
    parts = urlsplit(url)
    base = urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path,
                       parts.query, ""))


def ign_editions() -> dict[str, str]:
    """Return the IGN ADMIN EXPRESS COG CARTO editions: short name → delivery name.

    Returns
    -------
    dict
        E.g. ``{"2021": "ADMIN-EXPRESS-COG-CARTO_3-0__SHP_WGS84G_FRA_2021-05-19", ...}``,
        read from ``pipeline/data/sources.json``; ``"latest"`` (the WFS) is not listed.
    """
    return dict(_source(IGN_ARCHIVES_KEY)["editions"])


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


def _connect_failure(exc: requests.RequestException) -> str | None:
    """Describe a DNS failure or refused connection (offline: no retry), else None."""
    if isinstance(exc, requests.ConnectTimeout) or not isinstance(
            exc, requests.ConnectionError):
        return None
    import urllib3.exceptions

    reason: Any = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "the host name cannot be resolved (no network or no DNS)"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        cause = reason.__cause__ or reason.__context__
        detail = getattr(cause, "strerror", None) or "connection failed"
        return f"cannot connect ({detail})"
    return None


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
        if str(self.session.headers.get("User-Agent", "")).startswith("python-requests"):
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
                failure = _connect_failure(exc)
                if failure is not None:
                    raise NetworkError(f"cannot reach {what}: {failure}. {OFFLINE_HINT}"
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
        resumes = response.headers.get("Content-Range", "").startswith(f"bytes {start}-")
        if response.status_code == 416 or (response.status_code == 206 and not resumes):
            # Our .part is not a prefix of this resource, or the server sent another range.
            log.warning("server refused to resume %s; restarting the download", url)
            part.unlink(missing_ok=True)
            if not start:
                raise NetworkError(f"{url} answered HTTP {response.status_code} to a plain "
                                   "download; try again later.")
            return download(url, dest, expected_size=expected_size, sha256=sha256,
                            progress=progress, client=http)
        if response.status_code == 206:
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
        A key of :func:`ign_editions`, or ``"latest"``.
    url
        Where the data came from.

    Returns
    -------
    dict
        ``source`` (the attribution line), ``edition``, ``licence``, ``url``.
    """
    if edition == LATEST:
        entry = _source(IGN_WFS_KEY)
        return {"source": entry["attribution"], "edition": LATEST,
                "licence": entry["licence"], "url": url}
    entry = _source(IGN_ARCHIVES_KEY)
    return {"source": entry["attribution"].format(edition=edition.removesuffix("_gpkg")),
            "edition": entry["editions"][edition], "licence": entry["licence"], "url": url}


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
        cached = pyogrio.read_dataframe(path, layer=GPKG_CACHE_LAYER)
        if list(cached.columns) != ["code", "nom", "geometry"]:
            raise ValueError(f"columns {list(cached.columns)}")
        _validate_departements(cached, origin=str(path))
    except Exception as exc:  # any damage means: fetch again
        log.warning("cached départements %s are unreadable or incomplete (%s); "
                    "downloading them again", path, exc)
        path.unlink(missing_ok=True)
        return None
    cached = cached.sort_values("code", kind="stable", ignore_index=True)
    cached.attrs.update(ign_provenance(edition, url))
    return cached


def _write_cache(departements: gpd.GeoDataFrame, target: Path) -> None:
    """Write the cache GeoPackage next to ``target``, then rename (GDAL wants .gpkg)."""
    import pyogrio

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".write-") as work_dir:
        work = Path(work_dir) / target.name
        pyogrio.write_dataframe(departements, work, driver="GPKG", layer=GPKG_CACHE_LAYER)
        os.replace(work, target)


def _read_departement_layer(archive: Path, workdir: Path) -> gpd.GeoDataFrame:
    """Unpack and read the départements of an IGN 7z archive (3.x shapefile or 4.0 gpkg)."""
    import py7zr
    import pyogrio

    try:
        with py7zr.SevenZipFile(archive, max_extract_size=MAX_EXTRACT_BYTES) as z:
            names = z.getnames()
            stems = {str(PurePosixPath(n).with_suffix("")) for n in names
                     if PurePosixPath(n).name.upper() == "DEPARTEMENT.SHP"}
            targets = [n for n in names
                       if str(PurePosixPath(n).with_suffix("")) in stems
                       and PurePosixPath(n).suffix.lower() in SHAPEFILE_PARTS]
            if not targets:  # ADMIN EXPRESS 4.0: one GeoPackage with every layer
                targets = [n for n in names if n.lower().endswith(".gpkg")]
            if targets:
                z.extract(path=workdir, targets=targets)
    except (py7zr.exceptions.ArchiveError, py7zr.exceptions.Bad7zFile,
            py7zr.exceptions.CrcError, EOFError, OSError) as exc:
        raise BoundaryError(
            f"{archive}: damaged 7z archive ({type(exc).__name__}: {exc}); it was deleted, "
            "run the command again to download it anew."
        ) from exc
    found = sorted(workdir.glob("**/DEPARTEMENT.shp"))
    layer = None
    if not found:
        found = sorted(workdir.glob("**/*.gpkg"))
        layer = GPKG_LAYER
    if len(found) != 1:
        raise BoundaryError(
            f"{archive}: expected one DEPARTEMENT.shp (or one GeoPackage) in the archive, "
            f"found {len(found)} "
            f"({', '.join(str(p.relative_to(workdir)) for p in found) or 'none'}). The "
            "delivery format may have changed; use `--boundaries embedded`."
        )
    try:
        return pyogrio.read_dataframe(found[0], layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise BoundaryError(f"{archive}: cannot read {found[0].name} ({exc})") from exc


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


def fetch_ign_departements(*, edition: str = "2021",
                           cache_dir: str | os.PathLike[str] | None = None,
                           session: requests.Session | None = None,
                           progress: Progress | None = None,
                           client: HttpClient | None = None, base_url: str | None = None,
                           refresh: bool = False) -> gpd.GeoDataFrame:
    """Return IGN ADMIN EXPRESS COG CARTO départements, from the cache or the Géoplateforme.

    Editions ``"2021"``...``"2025"`` download the 3.x 7z archive (hundreds of MB, resumable),
    read ``**/DEPARTEMENT.shp`` from it and delete it; ``"2025_gpkg"`` and ``"2026_gpkg"``
    read layer ``departement`` of the 4.0 GeoPackage; ``"latest"`` asks the WFS for the
    101 départements of the current edition. The normalised result is cached as a small
    GeoPackage per edition, so later calls make no request. A damaged cache is detected,
    logged and fetched again.

    Parameters
    ----------
    edition
        ``"2021"`` (the vintage of the 2021 annex), another key of :func:`ign_editions`, or
        ``"latest"``.
    cache_dir
        Cache folder (see :func:`resolve_cache_dir`).
    session, client
        HTTP session or client (tests inject one); a new one by default.
    progress
        Download progress callback ``(bytes_done, bytes_total)``.
    base_url
        Replaces scheme and host of the URLs of ``sources.json`` (tests: a local server).
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

    from pipeline.boundaries import normalize_departements

    editions = ign_editions()
    if edition != LATEST and edition not in editions:
        raise BoundaryError(
            f"unknown IGN edition {edition!r}; choose one of {', '.join([*editions, LATEST])}."
        )
    folder = resolve_cache_dir(cache_dir) / "ign"
    cached_path = folder / f"departements-{edition}.gpkg"
    if edition == LATEST:
        url = _rebase(_source(IGN_WFS_KEY)["url"], base_url)
    else:
        entry = _source(IGN_ARCHIVES_KEY)
        url = _rebase(entry["url"].format(resource=entry["resource"],
                                          edition=editions[edition]), base_url)
    if not refresh:
        cached = _read_cached(cached_path, edition, url)
        if cached is not None:
            log.info("IGN départements %s read from the cache %s", edition, cached_path)
            return cached
    http = _client(client, session)
    if edition == LATEST:
        response = http.get(url)
        try:
            raw = pyogrio.read_dataframe(response.content)
        except Exception as exc:
            raise BoundaryError(
                f"{url}: the WFS answer is not readable GeoJSON ({exc}); try again later or "
                "use `--boundaries embedded`."
            ) from exc
        departements = _swap_if_latlon(normalize_departements(raw, origin=url))
    else:
        archive = folder / f"{editions[edition]}.7z"
        download(url, archive, progress=progress, client=http)
        try:
            with tempfile.TemporaryDirectory(dir=folder, prefix=".extract-") as tmp:
                raw = _read_departement_layer(archive, Path(tmp))
            departements = normalize_departements(raw, origin=f"{url} (DEPARTEMENT)")
        except BoundaryError:
            archive.unlink(missing_ok=True)
            raise
        archive.unlink(missing_ok=True)
    _validate_departements(departements, origin=url)
    departements.attrs = ign_provenance(edition, url)
    _write_cache(departements, cached_path)
    return departements


# --- Communes: geo.api.gouv.fr ------------------------------------------------------------------
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
    return ingest.normalize_departement(value)


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
        Replaces scheme and host of the API (tests: a local server).
    """

    def __init__(self, *, cache_dir: str | os.PathLike[str] | None = None,
                 session: requests.Session | None = None, client: HttpClient | None = None,
                 base_url: str | None = None) -> None:
        self.http = _client(client, session)
        template = urlsplit(_source(GEO_API_KEY)["url"])
        self.url = _rebase(urlunsplit((template.scheme, template.netloc, template.path, "",
                                       "")), base_url)
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
        key = f"{fold_name(name)}|{departement or ''}"
        cache = self._load()
        if key not in cache:
            params = {"nom": name.strip(), "fields": GEO_API_FIELDS, "boost": "population",
                      "limit": "5"}
            if departement:
                params["codeDepartement"] = departement
            response = self.http.get(self.url, params=params)
            try:
                answer = response.json()
                if not isinstance(answer, list):
                    raise ValueError("not a JSON list")
                candidates = [_candidate(item) for item in answer]
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise GeocodingError(
                    f"{response.url}: unexpected answer from geo.api.gouv.fr ({exc}); try "
                    "again later or use `--geocoder embedded`."
                ) from exc
            cache[key] = answer
            write_text(json.dumps(cache, ensure_ascii=False, sort_keys=True, indent=1) + "\n",
                       self.cache_path)
            return candidates
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
                   candidates: Iterable[CommuneCandidate], *,
                   former: Sequence[FormerName] = ()) -> tuple[str, CommuneCandidate | None, str]:
    """Pick the commune whose name matches ``name`` exactly once folded, never guessing.

    The API knows current communes only. When none of its answers bears the name and
    ``name`` is a former name of the département (:func:`pipeline.geocode.former_names`),
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

    The online twin of :func:`pipeline.geocode.geocode_sites`: same output columns, same
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
            f"no column 'commune' among {', '.join(map(str, sites.columns))}; geocode the "
            "validated registry (output of `ecoles-map ingest`)."
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
        former = former_names(name, dep) if status == NOT_FOUND and dep and name.strip() \
            else []
        if former:
            if len({f.code_insee for f in former}) == 1 and not any(
                    c.code_insee == former[0].code_insee for c in found):
                # Ask for the current commune by its name (cached like any answer).
                found = [*found, *coder.candidates(former[0].nom_commune, dep)]
            status, commune, methode = choose_commune(name, dep, found, former=former)
        if status != OK:
            log.warning("commune %r (département %s): %s", name, dep or "?", methode)
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


# --- Addresses: IGN Géoplateforme geocoder ------------------------------------------------------
def geocode_address(query: str, *, limit: int = 5, client: HttpClient | None = None,
                    session: requests.Session | None = None, base_url: str | None = None
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
        Replaces scheme and host of the service (tests: a local server).

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
    url = _rebase(_source(GEOCODER_KEY)["url"], base_url)
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
