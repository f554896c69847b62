"""HTTP for the online sources: one polite, bounded client, the cache folder, resumable downloads.

Every source also has an embedded default that needs no network; this module is the other
path's plumbing, used by :mod:`pipeline.sources.ign` and :mod:`pipeline.sources.geoapi`:

- :class:`HttpClient`, a :class:`requests.Session` with a User-Agent naming the project, a
  client-side rate limit, urllib3's :class:`~urllib3.util.retry.Retry` mounted on it (backoff
  on HTTP 429 and 5xx, ``Retry-After`` honoured up to :data:`MAX_RETRY_AFTER`), an overall
  deadline per request and a cap on the size of every answer; it turns every failure into a
  :class:`NetworkError` that says what happened and how to work offline;
- :func:`resolve_cache_dir`, the on-disk cache (``ECOLES_MAP_CACHE`` or the user cache folder),
  and :func:`ensure_cache_dir`, which says clearly when it cannot be used;
- :func:`base_url_from_env`, the environment variables that point a source at a mirror;
- :func:`download`, a resumable (HTTP Range), size- and checksum-verified download.

Bounds, as documented in the README: each request ends within its deadline
(:data:`DEFAULT_DEADLINE`, from sending the request to the last byte; plus at most the connect
timeout when the deadline falls while connecting); a request is tried at most
``1 + DEFAULT_RETRIES`` times, waiting at most :data:`MAX_RETRY_AFTER` between two attempts;
so :meth:`HttpClient.give_up_after` bounds the whole.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
from urllib3.util.retry import Retry

from pipeline import __version__
from pipeline.atomic import disk_error
from pipeline.config import sources
from pipeline.errors import NetworkError, PipelineError

log = logging.getLogger(__name__)

#: Callback ``progress(bytes_done, bytes_total)``; ``bytes_total`` is None when unknown.
Progress = Callable[[int, int | None], None]

# --- Defaults and bounds (documented in the README, "Online sources") --------------------------
USER_AGENT: Final = (
    f"ecoles-map/{__version__} (écoles de production coverage map; python-requests)"
)
#: (connect, read) timeouts in seconds: to open the connection, and between two packets.
DEFAULT_TIMEOUT: Final = (10.0, 60.0)
#: Overall deadline of one request, in seconds: sending, headers and the whole body.
DEFAULT_DEADLINE: Final = 60.0
#: Largest answer read into memory by :meth:`HttpClient.get` unless the caller says otherwise.
DEFAULT_MAX_BYTES: Final = 16 * 1024**2
#: Largest file :func:`download` writes unless the caller says otherwise.
DEFAULT_DOWNLOAD_MAX_BYTES: Final = 4 * 1024**3
DEFAULT_RETRIES: Final = 4
#: First backoff step in seconds (urllib3: no wait before the first retry, then 2, 4, 8 s...).
DEFAULT_BACKOFF: Final = 1.0
#: Longest wait between two attempts, in seconds, whatever ``Retry-After`` asks.
MAX_RETRY_AFTER: Final = 30.0
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: Redirects followed on the same host; one to another host is refused.
MAX_REDIRECTS: Final = 5
#: The IGN geocoder allows at most 50 requests per second (HTTP 429 beyond); we stay below.
MAX_RATE: Final = 50.0
DEFAULT_RATE: Final = 10.0
CACHE_ENV: Final = "ECOLES_MAP_CACHE"
#: Environment variables that replace the scheme and host of a source (mirrors, tests).
GEOAPI_URL_ENV: Final = "ECOLES_MAP_GEOAPI_URL"
IGN_DOWNLOAD_URL_ENV: Final = "ECOLES_MAP_IGN_DOWNLOAD_URL"
IGN_WFS_URL_ENV: Final = "ECOLES_MAP_IGN_WFS_URL"
PLAN_IGN_URL_ENV: Final = "ECOLES_MAP_PLAN_IGN_URL"
#: Download chunk; a cut connection loses at most one chunk of what was received.
CHUNK_SIZE = 1 << 16
OFFLINE_HINT: Final = (
    "Vérifiez la connexion à internet (ou le proxy), ou travaillez hors ligne avec les données "
    "intégrées : `--boundaries embedded` / `--geocoder embedded`."
)
CACHE_HINT: Final = (
    "choisissez un autre dossier de cache avec --cache-dir ou la variable ECOLES_MAP_CACHE"
)


def source_entry(key: str) -> dict[str, Any]:
    """Return one entry of ``sources.json``."""
    entry: dict[str, Any] = sources()["sources"][key]
    return entry


def rebase(url: str, base_url: str | None) -> str:
    """Replace the scheme and host of ``url`` by ``base_url``, prefixing its path if any."""
    if base_url is None:
        return url
    parts = urlsplit(url)
    base = urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path,
                       parts.query, ""))


def base_url_from_env(variable: str, base_url: str | None = None) -> str | None:
    """Return the base URL of a source: ``base_url`` if given, else ``$variable``, else None.

    Parameters
    ----------
    variable
        One of :data:`GEOAPI_URL_ENV`, :data:`IGN_DOWNLOAD_URL_ENV`, :data:`IGN_WFS_URL_ENV`,
        :data:`PLAN_IGN_URL_ENV`; its value (``https://mirror.example/ign``) replaces the
        scheme and host of the source's URLs, see :func:`rebase`.
    base_url
        Explicit value (tests); wins over the environment.

    Returns
    -------
    str or None
        The base URL, or None to use the addresses of ``sources.json``.

    Raises
    ------
    NetworkError
        If the variable is set to something that is not an http(s) URL.
    """
    if base_url is not None:
        return base_url
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
        raise NetworkError(f"{variable}={value!r} : adresse invalide ; donnez une URL http(s) "
                           "comme https://miroir.example, ou retirez la variable.")
    return value


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


def ensure_cache_dir(folder: Path) -> Path:
    """Create ``folder`` if needed and check that files can be written in it.

    Parameters
    ----------
    folder
        A cache folder (or one inside it).

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    PipelineError
        If a file stands where a folder is expected, or the folder cannot be written to (a
        full disk, a read-only file system, permissions), with the way out.
    """
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = "un fichier est à la place d'un dossier"
        else:
            reason = disk_error(exc) or exc.strerror or str(exc)
        raise PipelineError(f"le dossier de cache {folder} est inutilisable ({reason}) ; "
                            f"{CACHE_HINT}.") from exc
    return folder


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


class _Call:
    """One call of :class:`HttpClient`: its deadline, rate limit and sockets, for every attempt.

    The connections (:class:`_WatchedConnection`) find it in a thread-local and report each
    attempt and socket to it; when the deadline of an attempt passes, a timer shuts the socket
    down, which ends any blocked read at once, however slowly the server trickles.
    """

    _local = threading.local()

    def __init__(self, client: HttpClient, deadline: float) -> None:
        self.client = client
        self.deadline = deadline
        self.expired = False
        self.attempts = 0
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._generation = 0
        self._sockets: list[socket.socket] = []

    @classmethod
    def current(cls) -> _Call | None:
        call: _Call | None = getattr(cls._local, "call", None)
        return call

    @contextlib.contextmanager
    def active(self) -> Iterator[_Call]:
        previous = _Call.current()
        _Call._local.call = self
        try:
            yield self
        finally:
            self.disarm()
            _Call._local.call = previous

    def begin_attempt(self, sock: socket.socket | None) -> None:
        """Start an attempt on the wire: wait for the rate limit, restart the deadline."""
        self.client.limiter.wait()
        self.client.requests_sent += 1
        self.attempts += 1
        self.arm(restart=True)
        if sock is not None:
            self.watch(sock)

    def arm(self, *, restart: bool = False) -> None:
        with self._lock:
            if self._timer is not None and not restart:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._generation += 1
            self._sockets = []
            self.expired = False
            self._timer = threading.Timer(self.deadline, self._expire, (self._generation,))
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
            self._generation += 1
            self._sockets = []

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def _expire(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    """Wake up any thread blocked on ``sock`` (TLS included: the shutdown is below TLS)."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedConnection(urllib3.connection.HTTPConnection):
    """An HTTP connection that reports its attempts and socket to the current :class:`_Call`."""

    def connect(self) -> None:
        call = _Call.current()
        if call is not None:
            call.arm()
        super().connect()
        if call is not None and self.sock is not None:
            call.watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        call = _Call.current()
        if call is not None:
            call.begin_attempt(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedConnection, urllib3.connection.HTTPSConnection):
    """The TLS twin of :class:`_WatchedConnection`."""


class _WatchedPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS: Final = {"http": _WatchedPool, "https": _WatchedHTTPSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with the watched connections (direct or through a proxy)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # A SOCKS proxy has pools of its own: keep them (its requests have timeouts only).
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


class _Retry(Retry):
    """urllib3's Retry, with the waits of the current :class:`_Call` (capped, injectable).

    ``Retry-After`` (seconds or an HTTP date) is honoured up to the client's
    ``max_retry_after``; an unreadable one falls back to the backoff. An attempt whose
    deadline passed is not retried: the deadline bounds the request, not each try.
    """

    def sleep(self, response: Any = None) -> None:
        call = _Call.current()
        if call is not None:
            call.disarm()
        wait = None
        if self.respect_retry_after_header and response is not None:
            try:
                wait = self.get_retry_after(response)
            except urllib3.exceptions.InvalidHeader:
                wait = None
        if wait is None:
            wait = self.get_backoff_time()
        cap = call.client.max_retry_after if call is not None else MAX_RETRY_AFTER
        wait = min(max(wait, 0.0), cap)
        if wait > 0:
            (call.client.sleep if call is not None else time.sleep)(wait)

    def increment(self, *args: Any, **kwargs: Any) -> _Retry:
        call = _Call.current()
        if call is not None and call.expired:
            raise urllib3.exceptions.MaxRetryError(
                kwargs.get("_pool"), kwargs.get("url"),  # type: ignore[arg-type]
                urllib3.exceptions.TimeoutError("délai dépassé"))
        return super().increment(*args, **kwargs)


def _connect_failure(exc: requests.RequestException) -> str | None:
    """Describe a DNS failure or refused connection (offline: no retry), else None."""
    if isinstance(exc, requests.ConnectTimeout) or not isinstance(
            exc, requests.ConnectionError):
        return None
    reason: Any = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "le nom d'hôte ne peut pas être résolu (pas de réseau ou pas de DNS)"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        cause = reason.__cause__ or reason.__context__
        detail = getattr(cause, "strerror", None) or "échec de la connexion"
        return f"connexion impossible ({detail})"
    return None


def _size(count: int) -> str:
    """Return a byte count for people: "512 Kio", "2 Gio", "1500 octets"."""
    for unit, name in ((1024**3, "Gio"), (1024**2, "Mio"), (1024, "Kio")):
        if count >= unit and count % unit == 0:
            return f"{count // unit} {name}"
    return f"{count} octets"


class _InterruptedError(NetworkError):
    """A body that could not be read to its end; ``reason`` says why, ``too_large`` if so."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


@dataclass(frozen=True)
class HttpAnswer:
    """A complete answer, read within the deadline and the size cap."""

    url: str
    status: int
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)

    def json(self) -> Any:
        """Return the body parsed as JSON (:class:`ValueError` if it is not)."""
        return json.loads(self.content)


@dataclass
class Stream:
    """An answer whose body is being read, within the deadline of its :class:`_Call`."""

    response: requests.Response
    call: _Call

    def chunks(self, max_bytes: int) -> Iterator[bytes]:
        """Yield the body in chunks, decoded, refusing more than ``max_bytes`` in all.

        Raises
        ------
        _InterruptedError
            If the answer announces or sends more than ``max_bytes``, the deadline passes,
            or the connection is cut.
        """
        length = self.response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise _too_large(max_bytes, announced=int(length))
        done = 0
        try:
            for chunk in self.response.iter_content(CHUNK_SIZE):
                if self.call.expired:
                    break
                done += len(chunk)
                if done > max_bytes:
                    raise _too_large(max_bytes)
                yield chunk
        except requests.RequestException as exc:
            if not self.call.expired:
                raise _InterruptedError(f"connexion coupée après {done} octets ({_short(exc)})"
                                   ) from exc
        if self.call.expired:
            raise _InterruptedError(_deadline_reason(self.call.deadline))


def _too_large(max_bytes: int, announced: int | None = None) -> _InterruptedError:
    said = f" ; elle annonce {announced} octets" if announced is not None else ""
    return _InterruptedError(f"réponse trop volumineuse (plus de {_size(max_bytes)}{said}) ; ce "
                        "n'est pas ce que le service renvoie d'habitude", too_large=True)


def _deadline_reason(deadline: float) -> str:
    return (f"délai de {deadline:g} s dépassé (connexion, en-têtes et contenu compris) : le "
            "serveur répond trop lentement")


class HttpClient:
    """A polite, bounded HTTP client: rate limit, retries, deadlines, size caps, clear errors.

    Parameters
    ----------
    session
        Session to send requests with; by default a new one from :func:`make_session`. The
        client mounts its adapter (retries, watched connections) on it.
    rate
        Largest number of requests per second (at most :data:`MAX_RATE`), retries included.
    retries
        How many times a request is retried after HTTP 429/5xx, a read timeout or a cut.
    backoff
        urllib3's backoff factor: no wait before the first retry, then ``backoff * 2**n`` s;
        ``Retry-After`` wins; never more than ``max_retry_after``.
    timeout
        ``(connect, read)`` timeouts in seconds.
    deadline
        Overall deadline of each request in seconds, unless a call gives its own.
    max_retry_after
        Longest wait between two attempts, in seconds.
    sleep, clock
        Injectable for tests.
    """

    def __init__(self, *, session: requests.Session | None = None, rate: float = DEFAULT_RATE,
                 retries: int = DEFAULT_RETRIES, backoff: float = DEFAULT_BACKOFF,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 deadline: float = DEFAULT_DEADLINE,
                 max_retry_after: float = MAX_RETRY_AFTER,
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
        self.deadline = deadline
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.limiter = RateLimiter(rate, clock=clock, sleep=sleep)
        self.requests_sent = 0
        retry = _Retry(total=retries, connect=0, read=retries, status=retries, other=0,
                       allowed_methods=frozenset({"GET", "HEAD"}),
                       status_forcelist=RETRY_STATUSES, backoff_factor=backoff,
                       respect_retry_after_header=True, raise_on_status=False,
                       raise_on_redirect=False)
        adapter = _Adapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.max_redirects = MAX_REDIRECTS
        if _refuse_foreign_redirect not in self.session.hooks["response"]:
            self.session.hooks["response"].append(_refuse_foreign_redirect)

    def give_up_after(self, deadline: float | None = None) -> float:
        """Return the longest a call can last before it fails, in seconds.

        Every attempt ends within the connect timeout plus the deadline, and the waits between
        attempts are at most ``max_retry_after`` each.
        """
        attempts = self.retries + 1
        each = self.timeout[0] + (self.deadline if deadline is None else deadline)
        return attempts * each + self.retries * self.max_retry_after

    @contextlib.contextmanager
    def stream(self, url: str, *, params: Mapping[str, str] | None = None,
               headers: Mapping[str, str] | None = None,
               ok_statuses: Collection[int] = (200,),
               deadline: float | None = None) -> Iterator[Stream]:
        """Send a GET and yield its answer, whose body the caller reads within the deadline.

        Parameters
        ----------
        url
            Address to fetch.
        params, headers
            Query parameters and extra headers.
        ok_statuses
            Statuses given to the caller; any other final status raises.
        deadline
            Overall deadline of each attempt, in seconds (default: the client's).

        Yields
        ------
        Stream
            The answer, its body not read yet.

        Raises
        ------
        NetworkError
            If the host cannot be reached, the deadline passes, a redirect leads to another
            host, or the service still fails after the retries or answers another status.
        """
        what = url if not params else f"{url}?{urlencode(params)}"
        call = _Call(self, self.deadline if deadline is None else deadline)
        with call.active():
            try:
                response = self.session.get(url, params=params, headers=headers, stream=True,
                                            timeout=self.timeout)
            except requests.RequestException as exc:
                raise self._failure(exc, what, call) from exc
            with response:
                if response.status_code not in ok_statuses:
                    raise self._bad_status(response, what)
                yield Stream(response, call)

    def get(self, url: str, *, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None, ok_statuses: Collection[int] = (200,),
            deadline: float | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> HttpAnswer:
        """Send a GET and read the whole answer, within the deadline and ``max_bytes``.

        Parameters
        ----------
        url
            Address to fetch.
        params, headers
            Query parameters and extra headers.
        ok_statuses
            Statuses returned to the caller; any other final status raises.
        deadline
            Overall deadline of each attempt, in seconds (default: the client's).
        max_bytes
            Largest answer accepted (decoded); a larger one is refused before it is read.

        Returns
        -------
        HttpAnswer
            The answer, with a status in ``ok_statuses``.

        Raises
        ------
        NetworkError
            As :meth:`stream`, and if the answer is larger than ``max_bytes`` or cut.
        """
        what = url if not params else f"{url}?{urlencode(params)}"
        with self.stream(url, params=params, headers=headers, ok_statuses=ok_statuses,
                         deadline=deadline) as answer:
            try:
                content = b"".join(answer.chunks(max_bytes))
            except _InterruptedError as exc:
                hint = "" if exc.too_large else f" Réessayez plus tard. {OFFLINE_HINT}"
                raise NetworkError(f"{what} : {exc.reason}.{hint}") from exc
            response = answer.response
            return HttpAnswer(url=response.url, status=response.status_code,
                              headers=dict(response.headers), content=content)

    def _failure(self, exc: requests.RequestException, what: str, call: _Call
                 ) -> NetworkError:
        if call.expired:
            return NetworkError(f"{what} : {_deadline_reason(call.deadline)}. Réessayez plus "
                                f"tard. {OFFLINE_HINT}")
        failure = _connect_failure(exc)
        if failure is not None:
            return NetworkError(f"impossible de joindre {what} : {failure}. {OFFLINE_HINT}")
        return NetworkError(f"{what} échoue encore après {max(call.attempts, 1)} essai(s) "
                            f"(dernier : {_short(exc)}). Réessayez plus tard. {OFFLINE_HINT}")

    def _bad_status(self, response: requests.Response, what: str) -> NetworkError:
        last = f"HTTP {response.status_code} {response.reason}"
        if response.status_code in RETRY_STATUSES:
            retries = getattr(response.raw, "retries", None)
            attempts = len(retries.history) + 1 if retries is not None else self.retries + 1
            return NetworkError(f"{what} échoue encore après {attempts} essais (dernier : "
                                f"{last}). Réessayez plus tard. {OFFLINE_HINT}")
        return NetworkError(f"{what} a répondu {last} ; le service ou son adresse ont "
                            f"peut-être changé. {OFFLINE_HINT}")


def _refuse_foreign_redirect(response: requests.Response, *args: Any, **kwargs: Any
                             ) -> requests.Response:
    """Response hook: refuse a redirect to another host, or from https to http."""
    if not response.is_redirect:
        return response
    target = urljoin(response.url, response.headers.get("Location", ""))
    here, there = urlsplit(response.url), urlsplit(target)
    if ((here.hostname or "").lower() != (there.hostname or "").lower()
            or (here.scheme == "https" and there.scheme != "https")):
        response.close()
        raise NetworkError(
            f"{response.url} redirige vers un autre hôte ({target}) : redirection refusée. Si "
            "le service a déménagé, donnez sa nouvelle adresse par la variable d'environnement "
            f"de la source ({GEOAPI_URL_ENV}, {IGN_DOWNLOAD_URL_ENV}, {IGN_WFS_URL_ENV}).")
    return response


def _short(exc: BaseException) -> str:
    """Describe a requests exception in one line."""
    return f"{type(exc).__name__} : {str(exc).splitlines()[0][:200] if str(exc) else ''}"


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
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length", "")
    return start + int(length) if length.isdigit() else None


def _part_size(part: Path) -> int:
    """Size of a partial download to resume (0 if none); refuse a symlink or a special file."""
    try:
        info = os.lstat(part)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise PipelineError(f"{part} : illisible ({exc.strerror}) ; {CACHE_HINT}.") from exc
    if stat.S_ISLNK(info.st_mode):
        raise PipelineError(f"{part} est un lien symbolique : le téléchargement ne le suit pas. "
                            "Supprimez-le (ce n'est qu'un fichier partiel), puis relancez.")
    if not stat.S_ISREG(info.st_mode):
        raise PipelineError(f"{part} n'est pas un fichier ordinaire ; supprimez-le, puis "
                            "relancez.")
    return info.st_size


def _open_part(part: Path, *, append: bool) -> int:
    """Open the partial file for writing without following a symlink; return the descriptor."""
    flags = (os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_BINARY", 0) | (os.O_APPEND if append else os.O_TRUNC))
    try:
        fd = os.open(part, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PipelineError(f"{part} est un lien symbolique : le téléchargement ne le suit "
                                "pas. Supprimez-le, puis relancez.") from exc
        reason = disk_error(exc) or exc.strerror or str(exc)
        raise PipelineError(f"impossible d'écrire {part} ({reason}) ; {CACHE_HINT}.") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PipelineError(f"{part} n'est pas un fichier ordinaire ; supprimez-le, puis "
                            "relancez.")
    return fd


def _write_chunk(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def download(url: str, dest: str | os.PathLike[str], *, expected_size: int | None = None,
             sha256: str | None = None, progress: Progress | None = None,
             client: HttpClient | None = None, session: requests.Session | None = None,
             max_bytes: int = DEFAULT_DOWNLOAD_MAX_BYTES, deadline: float | None = None
             ) -> Path:
    """Download ``url`` to ``dest``, resumably, and verify it before it takes its name.

    Bytes go to ``dest.part``, opened without following a symbolic link. If a ``.part`` exists
    from a cut download, the transfer resumes with an HTTP ``Range`` request when the server
    answers 206, and restarts cleanly when it answers 200. The result is checked against the
    announced length, ``expected_size`` and ``sha256``, then renamed to ``dest``. A ``dest``
    already present and passing the checks is returned without any request.

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
    max_bytes
        Largest file accepted; a larger one is refused (announced) or cut off (sent).
    deadline
        Overall deadline of the transfer, in seconds (default: the client's).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    NetworkError
        If the connection fails, is cut or passes its deadline (the ``.part`` stays for the
        next try), or the file is too large or fails a check (the ``.part`` is deleted).
    PipelineError
        If the ``.part`` is a symbolic link or cannot be written (a full disk: the ``.part``
        stays, to resume once there is room).
    """
    dest = Path(dest)
    if dest.is_file() and _check_file(dest, expected_size=expected_size, sha256=sha256) is None:
        log.info("%s déjà téléchargé", dest)
        return dest
    ensure_cache_dir(dest.parent)
    part = dest.with_name(dest.name + ".part")
    http = client_for(client, session)
    start = _part_size(part)
    if expected_size is not None and start > expected_size:
        part.unlink()
        start = 0
    # The bytes on disk must be the bytes of the file: no transfer encoding, so Range works.
    headers = {"Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    restart = False
    with http.stream(url, headers=headers, ok_statuses=(200, 206, 416),
                     deadline=deadline) as answer:
        response = answer.response
        resumes = response.headers.get("Content-Range", "").startswith(f"bytes {start}-")
        if response.status_code == 416 or (response.status_code == 206 and not resumes):
            # Our .part is not a prefix of this resource, or the server sent another range.
            log.warning("le serveur refuse de reprendre %s ; le téléchargement recommence", url)
            part.unlink(missing_ok=True)
            if not start:
                raise NetworkError(f"{url} a répondu HTTP {response.status_code} à un "
                                   "téléchargement simple ; réessayez plus tard.")
            restart = True
        else:
            if response.status_code == 206:
                log.info("reprise de %s à l'octet %d", url, start)
            else:  # 200: the server ignores Range, start again from zero
                start = 0
            total = _content_total(response, start)
            done = _receive(answer, part, url, start=start, total=total, max_bytes=max_bytes,
                            progress=progress)
    if restart:
        return download(url, dest, expected_size=expected_size, sha256=sha256,
                        progress=progress, client=http, max_bytes=max_bytes, deadline=deadline)
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
    try:
        os.replace(part, dest)
    except OSError as exc:
        raise PipelineError(f"impossible de renommer {part} en {dest} ({exc.strerror}) ; "
                            f"{CACHE_HINT}.") from exc
    return dest


def _receive(answer: Stream, part: Path, url: str, *, start: int, total: int | None,
             max_bytes: int, progress: Progress | None) -> int:
    """Write the body of ``answer`` to ``part`` (appending after ``start`` bytes)."""
    done = start
    fd = _open_part(part, append=bool(start))
    try:
        if progress is not None:
            progress(done, total)
        for chunk in answer.chunks(max_bytes - start):
            try:
                _write_chunk(fd, chunk)
            except OSError as exc:
                reason = disk_error(exc) or exc.strerror or str(exc)
                raise PipelineError(
                    f"impossible d'écrire {part} ({reason}) après {done} octets reçus ; "
                    f"libérez de la place ou {CACHE_HINT}, puis relancez : le téléchargement "
                    "reprendra où il s'est arrêté.") from exc
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    except _InterruptedError as exc:
        if exc.too_large:
            os.close(fd)
            fd = -1
            part.unlink(missing_ok=True)
            raise NetworkError(f"le téléchargement de {url} est refusé : {exc.reason} ; le "
                               "fichier partiel a été supprimé.") from exc
        raise NetworkError(
            f"le téléchargement de {url} s'est interrompu après {done} octets : {exc.reason}. "
            f"Le fichier partiel {part} est gardé : relancez la même commande pour reprendre. "
            f"{OFFLINE_HINT}") from exc
    finally:
        if fd >= 0:
            os.close(fd)
    return done
