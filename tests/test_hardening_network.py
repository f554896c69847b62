"""Hardening, round two: servers on 127.0.0.1 that misbehave, caches and disks that fail.

Each misbehaving server (trickle, huge answer, redirect elsewhere, 503 forever) must end
within the bound the client documents; the tests make those bounds small and check the
behaviour and that the bound is configured, never the wall-clock time. The servers bound
themselves too, so that a client without limits fails the test instead of hanging it.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from urllib3.util.retry import Retry

from pipeline.config import sources
from pipeline.errors import BoundaryError, NetworkError, PipelineError
from pipeline.sources import http, ign
from pipeline.sources.geoapi import GeoApiGeocoder, geocode_online
from pipeline.sources.http import HttpClient, download
from pipeline.sources.ign import fetch_ign_departements
from tests.test_online import ARCHIVE_PATH, archive_101, squares

__all__ = ["archive_101"]  # the fixture, shared with test_online.py

#: Bounds made small for the tests (the defaults are in pipeline/sources/http.py).
DEADLINE = 1.0
#: How long a misbehaving server keeps going on its own, whatever the client does.
SERVER_PATIENCE = 8.0


# --- A server on 127.0.0.1 that misbehaves on purpose ----------------------------------------
Behaviour = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Server:
    url: str = ""
    routes: dict[str, Behaviour] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    sent: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            state.log.append(self.path)
            route = state.routes.get(urlsplit(self.path).path)
            if route is None:
                self.send_error(404)
                return
            try:
                route(self)
            except OSError:  # the client hung up: that is what it should do
                self.close_connection = True

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield state
    state.stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def send(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200,
         headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def json_body(value: object) -> Behaviour:
    return lambda h: send(h, json.dumps(value).encode(), headers={
        "Content-Type": "application/json"})


def _patiently(state: Server, write: Callable[[], None], pause: float) -> None:
    """Call ``write`` every ``pause`` seconds until the client leaves or patience runs out."""
    end = time.monotonic() + SERVER_PATIENCE
    while time.monotonic() < end and not state.stop.is_set():
        write()
        time.sleep(pause)


def trickle_body(state: Server) -> Behaviour:
    def behave(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.flush()

        def one_byte() -> None:
            h.wfile.write(b"x")
            h.wfile.flush()

        _patiently(state, one_byte, 0.05)
        h.close_connection = True

    return behave


def trickle_headers(state: Server) -> Behaviour:
    def behave(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Lent: ")

        def one_byte() -> None:
            h.wfile.write(b"a")
            h.wfile.flush()

        _patiently(state, one_byte, 0.05)
        h.close_connection = True

    return behave


def huge(state: Server, *, chunked: bool) -> Behaviour:
    """A 2 GB JSON answer (announced, or chunked without a length)."""
    block = b"[" + b"0," * 32767 + b"0"

    def behave(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(2 * 1024**3))
        h.end_headers()
        while state.sent < 64 * 1024**2 and not state.stop.is_set():
            data = b"%x\r\n%s\r\n" % (len(block), block) if chunked else block
            h.wfile.write(data)
            state.sent += len(block)
        h.close_connection = True

    return behave


def status_forever(status: int, headers: dict[str, str]) -> Behaviour:
    return lambda h: send(h, b"", status=status, headers=headers)


# --- Clients with small bounds, and no real sleeping ------------------------------------------
@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Iterator[HttpClient]:
    ticks = itertools.count()
    http_client = HttpClient(rate=50, retries=3, backoff=0.5, timeout=(2, 2), deadline=DEADLINE,
                             sleep=sleeps.append, clock=lambda: float(next(ticks)))
    yield http_client
    http_client.session.close()


def test_retries_are_urllib3_retry_mounted_on_the_session(client: HttpClient) -> None:
    for url in ("https://data.geopf.fr/", "http://127.0.0.1/"):
        retry = client.session.get_adapter(url).max_retries
        assert isinstance(retry, Retry)
        assert retry.total == 3 and {429, 500, 502, 503, 504} <= set(retry.status_forcelist)
        assert retry.respect_retry_after_header and retry.connect == 0


def test_the_bounds_are_configured_and_documented() -> None:
    default = HttpClient()
    assert default.deadline == http.DEFAULT_DEADLINE
    assert default.max_retry_after == http.MAX_RETRY_AFTER
    bound = default.give_up_after()
    attempts = http.DEFAULT_RETRIES + 1
    assert bound == (attempts * (http.DEFAULT_TIMEOUT[0] + http.DEFAULT_DEADLINE)
                     + http.DEFAULT_RETRIES * http.MAX_RETRY_AFTER)
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    for figure in (f"{http.DEFAULT_DEADLINE:g} s", f"{http.MAX_RETRY_AFTER:g} s",
                   f"{bound:g} s", f"{ign.ARCHIVE_DEADLINE / 60:g} min",
                   f"{GeoApiGeocoder.max_bytes // 1024} Kio", f"{ign.WFS_MAX_BYTES // 1024**2} Mio",
                   f"{ign.ARCHIVE_MAX_BYTES // 1024**3} Gio", "ECOLES_MAP_GEOAPI_URL",
                   "ECOLES_MAP_IGN_DOWNLOAD_URL", "ECOLES_MAP_IGN_WFS_URL",
                   "ECOLES_MAP_PLAN_IGN_URL"):
        assert figure in readme, figure
    default.session.close()


# --- Deadlines: a server trickling 1 byte at a time ----------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_trickling_server_ends_at_the_deadline(where: str, server: Server,
                                                 client: HttpClient) -> None:
    server.routes["/lent"] = (trickle_body if where == "body" else trickle_headers)(server)
    with pytest.raises(NetworkError, match="délai") as err:
        client.get(server.url + "/lent")
    assert f"{DEADLINE:g} s" in str(err.value) and "/lent" in str(err.value)
    assert server.log == ["/lent"]  # a deadline is not retried


@pytest.mark.slow
def test_a_trickling_geocoder_ends_at_the_deadline(server: Server, client: HttpClient,
                                                   tmp_path: Path) -> None:
    server.routes["/communes"] = trickle_body(server)
    coder = GeoApiGeocoder(cache_dir=tmp_path, client=client, base_url=server.url)
    with pytest.raises(NetworkError, match="délai"):
        geocode_online(pd.DataFrame({"commune": ["Flers"], "departement": ["61"]}),
                       geocoder=coder)


@pytest.mark.slow
def test_a_trickling_download_ends_at_the_deadline_and_keeps_the_part(
        server: Server, client: HttpClient, tmp_path: Path) -> None:
    server.routes["/f.7z"] = trickle_body(server)
    with pytest.raises(NetworkError, match=r"délai.*relancez"):
        download(server.url + "/f.7z", tmp_path / "f.7z", client=client)
    assert (tmp_path / "f.7z.part").exists() and not (tmp_path / "f.7z").exists()


# --- Size caps: a 2 GB answer -----------------------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True], ids=["announced", "chunked"])
def test_a_huge_geocoder_answer_is_refused_without_reading_it(
        chunked: bool, server: Server, client: HttpClient, tmp_path: Path) -> None:
    server.routes["/communes"] = huge(server, chunked=chunked)
    coder = GeoApiGeocoder(cache_dir=tmp_path, client=client, base_url=server.url)
    with pytest.raises(NetworkError, match="trop volumineuse") as err:
        coder.candidates("Flers", "61")
    assert f"{GeoApiGeocoder.max_bytes // 1024} Kio" in str(err.value)
    # Only what fits in the socket buffers was sent: far from 64 MB, let alone 2 GB.
    assert server.sent < 32 * 1024**2


def test_a_huge_wfs_answer_is_refused(server: Server, client: HttpClient, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ign, "WFS_MAX_BYTES", 1024**2)
    server.routes["/wfs/ows"] = huge(server, chunked=True)
    with pytest.raises(NetworkError, match="trop volumineuse"):
        fetch_ign_departements(edition="latest", cache_dir=tmp_path, client=client,
                               base_url=server.url)
    assert not (tmp_path / "ign" / "departements-latest.gpkg").exists()


def test_a_download_larger_than_its_cap_is_refused(server: Server, client: HttpClient,
                                                   tmp_path: Path) -> None:
    server.routes["/f.7z"] = huge(server, chunked=True)
    with pytest.raises(NetworkError, match="trop volumineuse"):
        download(server.url + "/f.7z", tmp_path / "f.7z", client=client, max_bytes=1024**2)
    assert not (tmp_path / "f.7z").exists() and not (tmp_path / "f.7z.part").exists()


# --- Redirects ------------------------------------------------------------------------------
def test_a_redirect_to_another_host_is_refused(server: Server, client: HttpClient) -> None:
    port = urlsplit(server.url).port
    server.routes["/ailleurs"] = status_forever(302, {"Location": f"http://localhost:{port}/ok"})
    server.routes["/ok"] = json_body([])
    with pytest.raises(NetworkError, match="autre hôte") as err:
        client.get(server.url + "/ailleurs")
    assert "localhost" in str(err.value)
    assert server.log == ["/ailleurs"]


def test_a_redirect_on_the_same_host_is_followed(server: Server, client: HttpClient) -> None:
    server.routes["/ici"] = status_forever(302, {"Location": "/ok"})
    server.routes["/ok"] = json_body(["fine"])
    assert client.get(server.url + "/ici").json() == ["fine"]


# --- Retries: 503 forever ---------------------------------------------------------------------
@pytest.mark.parametrize("retry_after", ["3600", "Wed, 21 Oct 2099 07:28:00 GMT", "bientôt", ""])
def test_503_forever_gives_up_within_the_bound(retry_after: str, server: Server,
                                               client: HttpClient, sleeps: list[float]) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    server.routes["/occupe"] = status_forever(503, headers)
    with pytest.raises(NetworkError, match=r"après 4 essais.*HTTP 503"):
        client.get(server.url + "/occupe")
    assert len(server.log) == 4
    assert len(sleeps) <= 3 and all(0 <= s <= client.max_retry_after for s in sleeps)
    if retry_after[:1].isdigit() or retry_after.startswith("Wed"):
        assert sleeps == [client.max_retry_after] * 3


# --- IGN archives: checksum, unpacked size, .part ----------------------------------------------
def test_every_edition_has_a_sha256_field() -> None:
    entry = sources()["sources"]["ign_admin_express_cog_carto"]
    assert set(entry["sha256"]) == set(entry["editions"])
    for value in entry["sha256"].values():
        assert value is None or (len(value) == 64 and int(value, 16) >= 0)


@pytest.mark.slow
@pytest.mark.parametrize("recorded", ["wrong", "right"])
def test_ign_archive_is_checked_against_its_recorded_sha256(
        recorded: str, server: Server, client: HttpClient, tmp_path: Path, archive_101: bytes,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes[ARCHIVE_PATH] = lambda h: send(h, archive_101)
    entry = json.loads(json.dumps(ign.source_entry(ign.IGN_ARCHIVES_KEY)))
    entry["sha256"]["2021"] = ("0" * 64 if recorded == "wrong"
                               else hashlib.sha256(archive_101).hexdigest())
    real = ign.source_entry
    monkeypatch.setattr(ign, "source_entry",
                        lambda key: entry if key == ign.IGN_ARCHIVES_KEY else real(key))
    if recorded == "wrong":
        with pytest.raises(NetworkError, match=r"corrompu.*sha256"):
            fetch_ign_departements(cache_dir=tmp_path, client=client, base_url=server.url)
        assert list((tmp_path / "ign").iterdir()) == []
    else:
        got, _ = fetch_ign_departements(cache_dir=tmp_path, client=client,
                                        base_url=server.url)
        assert len(got) == 101


def test_7z_refused_by_its_declared_unpacked_size_before_extraction(
        server: Server, client: HttpClient, tmp_path: Path, archive_101: bytes,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import py7zr

    server.routes[ARCHIVE_PATH] = lambda h: send(h, archive_101)
    monkeypatch.setattr(ign, "MAX_EXTRACT_BYTES", 10_000)
    extracted: list[object] = []
    monkeypatch.setattr(py7zr.SevenZipFile, "extract",
                        lambda self, *a, **k: extracted.append(a))
    with pytest.raises(BoundaryError, match="décompressé") as err:
        fetch_ign_departements(cache_dir=tmp_path, client=client, base_url=server.url)
    assert "10000" in str(err.value).replace("\u202f", "").replace(" ", "")
    assert extracted == []
    assert list((tmp_path / "ign").iterdir()) == []


def test_part_file_that_is_a_symlink_is_not_followed(server: Server, client: HttpClient,
                                                     tmp_path: Path) -> None:
    server.routes["/f.bin"] = lambda h: send(h, b"payload")
    victim = tmp_path / "victime.txt"
    victim.write_bytes(b"do not touch\n")
    (tmp_path / "f.bin.part").symlink_to(victim)
    with pytest.raises(PipelineError, match="lien symbolique"):
        download(server.url + "/f.bin", tmp_path / "f.bin", client=client)
    assert victim.read_bytes() == b"do not touch\n"
    assert not (tmp_path / "f.bin").exists()


# --- Base URLs from the environment ------------------------------------------------------------
def test_geoapi_url_from_the_environment(server: Server, client: HttpClient, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes["/communes"] = json_body([])
    monkeypatch.setenv("ECOLES_MAP_GEOAPI_URL", server.url)
    coder = GeoApiGeocoder(cache_dir=tmp_path, client=client)
    assert coder.candidates("Nulle-Part", "01") == []
    assert server.log and server.log[0].startswith("/communes?")


def test_ign_download_url_from_the_environment(server: Server, client: HttpClient,
                                               tmp_path: Path, archive_101: bytes,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes[ARCHIVE_PATH] = lambda h: send(h, archive_101)
    monkeypatch.setenv("ECOLES_MAP_IGN_DOWNLOAD_URL", server.url)
    got, provenance = fetch_ign_departements(cache_dir=tmp_path, client=client)
    assert len(got) == 101 and provenance.url.startswith(server.url)


def test_ign_wfs_url_from_the_environment(server: Server, client: HttpClient, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    wfs = squares().rename(columns={"INSEE_DEP": "code_insee", "NOM": "nom_officiel"})
    server.routes["/wfs/ows"] = json_body(json.loads(wfs.to_json()))
    monkeypatch.setenv("ECOLES_MAP_IGN_WFS_URL", server.url)
    got, _ = fetch_ign_departements(edition="latest", cache_dir=tmp_path, client=client)
    assert len(got) == 101 and server.log[0].startswith("/wfs/ows?")


class _Captured:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.cache: list[str] = []


@pytest.fixture
def basemap_calls(monkeypatch: pytest.MonkeyPatch) -> _Captured:
    import contextily

    captured = _Captured()
    monkeypatch.setattr(contextily, "set_cache_dir", captured.cache.append)
    monkeypatch.setattr(contextily, "add_basemap",
                        lambda ax, **kwargs: captured.calls.append(kwargs))
    return captured


def test_plan_ign_url_and_tile_cache_from_the_environment(
        basemap_calls: _Captured, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.outputs.maps.render import _add_basemap
    from pipeline.sources.tiles import basemap_source

    monkeypatch.setenv("ECOLES_MAP_PLAN_IGN_URL", "http://127.0.0.1:9/miroir")
    monkeypatch.setenv("ECOLES_MAP_CACHE", str(tmp_path / "cache"))
    _add_basemap(object(), basemap_source("plan-ign"), "EPSG:2154")
    source = basemap_calls.calls[0]["source"]
    assert source.build_url(x=1, y=2, z=3).startswith("http://127.0.0.1:9/miroir/wmts?")
    assert basemap_calls.cache == [str(tmp_path / "cache" / "tiles")]


def test_tile_cache_follows_the_cache_dir_option(basemap_calls: _Captured,
                                                 tmp_path: Path) -> None:
    from pipeline.outputs.maps.render import _add_basemap
    from pipeline.sources.tiles import basemap_source

    _add_basemap(object(), basemap_source("plan-ign", cache_dir=tmp_path / "choisi"),
                 "EPSG:2154")
    assert basemap_calls.cache == [str(tmp_path / "choisi" / "tiles")]
    assert basemap_calls.calls[0]["source"].build_url(x=1, y=2, z=3).startswith(
        "https://data.geopf.fr/wmts?")


def test_tile_cache_folder_that_is_a_file_is_a_clear_error(basemap_calls: _Captured,
                                                           tmp_path: Path) -> None:
    from pipeline.errors import RenderError
    from pipeline.sources.tiles import basemap_source

    blocker = tmp_path / "cache"
    blocker.write_text("a file\n")
    with pytest.raises(RenderError, match="cache") as err:
        basemap_source("plan-ign", cache_dir=blocker)
    assert str(blocker) in str(err.value)


# --- Geocoder cache -------------------------------------------------------------------------
def lyon(query: dict[str, list[str]]) -> list[dict[str, Any]]:
    if query["nom"] != ["Lyon"]:
        return []
    return [{"code": "69123", "nom": "Lyon", "codeDepartement": "69", "population": 1,
             "centre": {"type": "Point", "coordinates": [4.83, 45.76]}}]


def route(answer: Callable[[dict[str, list[str]]], object]) -> Behaviour:
    return lambda h: send(h, json.dumps(answer(parse_qs(urlsplit(h.path).query))).encode())


def test_a_cache_hit_is_keyed_on_the_exact_query(server: Server, client: HttpClient,
                                                 tmp_path: Path) -> None:
    server.routes["/communes"] = route(lyon)
    coder = GeoApiGeocoder(cache_dir=tmp_path, client=client, base_url=server.url)
    assert coder.candidates("Lyon.", "69") == []
    assert [c.code_insee for c in coder.candidates("Lyon", "69")] == ["69123"]
    fresh = GeoApiGeocoder(cache_dir=tmp_path, client=client, base_url=server.url)
    assert [c.code_insee for c in fresh.candidates("Lyon", "69")] == ["69123"]
    assert fresh.candidates("Lyon.", "69") == []
    assert len(server.log) == 2


@pytest.mark.parametrize("entry", ["pas une liste", [42], [{"nom": "sans code"}], None])
def test_a_cache_entry_of_the_wrong_type_is_asked_again(
        entry: object, server: Server, client: HttpClient, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    server.routes["/communes"] = route(lyon)
    coder = GeoApiGeocoder(cache_dir=tmp_path, client=client, base_url=server.url)
    coder.candidates("Lyon", "69")
    data = json.loads(coder.cache_path.read_text(encoding="utf-8"))
    coder.cache_path.write_text(json.dumps(dict.fromkeys(data, entry)), encoding="utf-8")
    fresh = GeoApiGeocoder(cache_dir=tmp_path, client=client, base_url=server.url)
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        assert [c.code_insee for c in fresh.candidates("Lyon", "69")] == ["69123"]
    assert len(server.log) == 2 and "cache" in caplog.text


@pytest.mark.parametrize("damage", ["folder is a file", "file is a folder", "disk full",
                                    "unwritable"])
def test_a_broken_geocoder_cache_is_a_warning_and_the_answer_still_comes(
        damage: str, server: Server, client: HttpClient, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes["/communes"] = route(lyon)
    cache_dir = tmp_path / "cache"
    if damage == "folder is a file":
        cache_dir.write_text("a file where the cache folder should be\n")
    elif damage == "file is a folder":
        (cache_dir / "geo.api.gouv.fr.json").mkdir(parents=True)
    else:
        code = errno.ENOSPC if damage == "disk full" else errno.EACCES

        def fail(*args: object, **kwargs: object) -> tuple[int, str]:
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr("tempfile.mkstemp", fail)
    coder = GeoApiGeocoder(cache_dir=cache_dir, client=client, base_url=server.url)
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        assert [c.code_insee for c in coder.candidates("Lyon", "69")] == ["69123"]
        assert [c.code_insee for c in coder.candidates("Lyon", "69")] == ["69123"]
    assert str(cache_dir) in caplog.text and "cache" in caplog.text
    assert len(server.log) == 1  # still answered from memory


# --- IGN cache and disk ------------------------------------------------------------------------
def test_a_cached_geopackage_that_is_a_folder_is_a_clear_error(tmp_path: Path,
                                                               client: HttpClient) -> None:
    folder = tmp_path / "ign" / "departements-2021.gpkg"
    folder.mkdir(parents=True)
    with pytest.raises(BoundaryError, match="dossier") as err:
        fetch_ign_departements(cache_dir=tmp_path, client=client,
                               base_url="http://127.0.0.1:9")
    assert str(folder) in str(err.value)


def test_an_ign_cache_folder_that_is_a_file_is_a_clear_error(tmp_path: Path,
                                                             client: HttpClient) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file\n")
    with pytest.raises(PipelineError, match="--cache-dir") as err:
        fetch_ign_departements(cache_dir=blocker, client=client, base_url="http://127.0.0.1:9")
    assert str(blocker) in str(err.value)


def test_a_full_disk_during_a_download_keeps_the_part(server: Server, client: HttpClient,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes["/f.bin"] = lambda h: send(h, b"x" * 300_000)
    monkeypatch.setattr(http, "CHUNK_SIZE", 1000)
    written: list[int] = []

    def write(fd: int, data: bytes) -> int:
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(len(data))
        return real_write(fd, data)

    real_write = os.write
    monkeypatch.setattr(http, "_write_chunk", write)
    with pytest.raises(PipelineError, match="disque plein") as err:
        download(server.url + "/f.bin", tmp_path / "f.bin", client=client)
    assert "--cache-dir" in str(err.value)
    assert (tmp_path / "f.bin.part").stat().st_size == written[0]


def test_a_full_disk_while_caching_ign_boundaries_is_a_clear_error(
        server: Server, client: HttpClient, tmp_path: Path, archive_101: bytes,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes[ARCHIVE_PATH] = lambda h: send(h, archive_101)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("pyogrio.write_dataframe", full)
    with pytest.raises(PipelineError, match="disque plein"):
        fetch_ign_departements(cache_dir=tmp_path, client=client, base_url=server.url)
