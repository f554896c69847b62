"""HTTP for the online sources: one polite client, the cache folder, resumable downloads.

Every source also has an embedded default that needs no network; this module is the other
path's plumbing, used by :mod:`pipeline.sources.ign` and :mod:`pipeline.sources.geoapi`:

- :class:`HttpClient`, a :class:`requests.Session` with a User-Agent naming the project,
  timeouts, a client-side rate limit and retries with backoff on HTTP 429 and 5xx (honouring
  ``Retry-After``), which turns an unreachable host into a :class:`NetworkError` that says
  how to work offline;
- :func:`resolve_cache_dir`, the on-disk cache (``ECOLES_MAP_CACHE`` or the user cache folder);
- :func:`download`, a resumable (HTTP Range), size- and checksum-verified download.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from pipeline import __version__
from pipeline.config import sources
from pipeline.errors import NetworkError

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
    "Vérifiez la connexion à internet (ou le proxy), ou travaillez hors ligne avec les données "
    "intégrées : `--boundaries embedded` / `--geocoder embedded`."
)



def source_entry(key: str) -> dict[str, Any]:
    """Return one entry of ``sources.json``."""
    entry: dict[str, Any] = sources()["sources"][key]
    return entry


def rebase(url: str, base_url: str | None) -> str:
    """Replace the scheme and host of ``url`` by ``base_url`` (tests use a local server)."""
    if base_url is None:
        return url
    parts = urlsplit(url)
    base = urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path,
                       parts.query, ""))


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
        return "le nom d'hôte ne peut pas être résolu (pas de réseau ou pas de DNS)"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        cause = reason.__cause__ or reason.__context__
        detail = getattr(cause, "strerror", None) or "échec de la connexion"
        return f"connexion impossible ({detail})"
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
                    raise NetworkError(f"impossible de joindre {what} : {failure}. "
                                       f"{OFFLINE_HINT}") from exc
                last = _short(exc)
                log.warning("GET %s a échoué (%s), essai %d sur %d", what, last, attempt + 1,
                            self.retries + 1)
            else:
                if response.status_code in ok_statuses:
                    return response
                last = f"HTTP {response.status_code} {response.reason}"
                if response.status_code not in RETRY_STATUSES:
                    response.close()
                    raise NetworkError(
                        f"{what} a répondu {last} ; le service ou son adresse ont peut-être "
                        f"changé. {OFFLINE_HINT}"
                    )
                wait = _retry_after(response)
                if wait is not None:
                    delay = min(wait, MAX_RETRY_AFTER)
                response.close()
                log.warning("GET %s a répondu %s, essai %d sur %d", what, last, attempt + 1,
                            self.retries + 1)
            if attempt < self.retries:
                self.sleep(delay)
        raise NetworkError(
            f"{what} échoue encore après {self.retries + 1} essais (dernier : {last}). "
            f"Réessayez plus tard. {OFFLINE_HINT}"
        )


def _short(exc: BaseException) -> str:
    """Describe a requests exception in one line."""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def client_for(client: HttpClient | None, session: requests.Session | None) -> HttpClient:
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
        return f"taille {size} octets, {expected_size} attendus"
    if sha256 is not None:
        actual = _sha256(path)
        if actual.lower() != sha256.lower():
            return f"sha256 {actual}, {sha256} attendu"
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
        log.info("%s déjà téléchargé", dest)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    http = client_for(client, session)
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
            log.warning("le serveur refuse de reprendre %s ; le téléchargement recommence", url)
            part.unlink(missing_ok=True)
            if not start:
                raise NetworkError(f"{url} a répondu HTTP {response.status_code} à un "
                                   "téléchargement simple ; réessayez plus tard.")
            return download(url, dest, expected_size=expected_size, sha256=sha256,
                            progress=progress, client=http)
        if response.status_code == 206:
            mode = "ab"
            log.info("reprise de %s à l'octet %d", url, start)
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
                f"le téléchargement de {url} a été coupé après {done} octets ({_short(exc)}) ; "
                f"le fichier partiel {part} est gardé : relancez la même commande pour "
                f"reprendre. {OFFLINE_HINT}"
            ) from exc
    if total is not None and done != total:
        raise NetworkError(
            f"le téléchargement de {url} s'est arrêté à {done} octets sur {total} ; le "
            f"fichier partiel {part} est gardé : relancez la même commande pour reprendre. "
            f"{OFFLINE_HINT}"
        )
    problem = _check_file(part, expected_size=expected_size, sha256=sha256)
    if problem is not None:
        part.unlink()
        raise NetworkError(
            f"le téléchargement de {url} est corrompu ({problem}) ; il a été supprimé. "
            "Relancez la commande ; si cela persiste, le fichier publié a changé : mettez à "
            "jour sa taille et son sha256 dans pipeline/data/sources.json."
        )
    os.replace(part, dest)
    return dest
