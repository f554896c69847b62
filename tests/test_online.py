"""Online paths, tested against a real HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import pandas as pd
import py7zr
import pytest
import requests
import shapely
from geopandas.testing import assert_geodataframe_equal

from pipeline.errors import BoundaryError, NetworkError
from pipeline.sources import http as online
from pipeline.sources.geoapi import GeoApiGeocoder, geocode_online
from pipeline.sources.http import HttpClient, RateLimiter, download, resolve_cache_dir
from pipeline.sources.ign import DEPARTEMENT_CODES, fetch_ign_departements, ign_editions
from pipeline.steps.geocode import fold_name


def archive_path(edition: str) -> str:
    name = ign_editions()[edition]
    return f"/telechargement/download/ADMIN-EXPRESS-COG-CARTO/{name}/{name}.7z"


EDITION_2021 = ign_editions()["2021"]
ARCHIVE_PATH = archive_path("2021")


# --- A scriptable HTTP server ---------------------------------------------------------------
@dataclass
class Served:
    """What the local server answers: routes, a script of failures, a log of requests."""

    routes: dict[str, bytes | Callable[[dict[str, list[str]]], Any]] = field(
        default_factory=dict)
    #: Actions for the next requests, in order: ("status", code, headers) or ("cut", nbytes).
    script: list[tuple[Any, ...]] = field(default_factory=list)
    honour_range: bool = True
    log: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            served.log.append((self.path, self.headers.get("Range")))
            if served.script and served.script[0][0] == "status":
                _, status, headers = served.script.pop(0)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            route = served.routes.get(parts.path)
            if route is None:
                self.send_error(404)
                return
            body = json.dumps(route(parse_qs(parts.query))).encode() if callable(route) else route
            start = 0
            header = self.headers.get("Range")
            if header and served.honour_range:
                start = int(header.removeprefix("bytes=").rstrip("-"))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if served.script and served.script[0][0] == "cut":
                cut = served.script.pop(0)[1]
                self.wfile.write(body[start:start + cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body[start:])

    return Handler


@pytest.fixture
def served() -> Iterator[Served]:
    state = Served()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Iterator[HttpClient]:
    """A client that never really sleeps; its clock moves 1 s per call (no rate waits)."""
    ticks = itertools.count()
    http = HttpClient(rate=50, retries=3, backoff=0.5, timeout=(2, 2),
                      sleep=sleeps.append, clock=lambda: float(next(ticks)))
    yield http
    http.session.close()


# --- Synthetic IGN data ---------------------------------------------------------------------
def squares(codes: tuple[str, ...] = DEPARTEMENT_CODES) -> gpd.GeoDataFrame:
    """One 0.1° square per département, in the 3.x shapefile schema, shuffled order."""
    rows = []
    for i, code in enumerate(reversed(codes)):
        x, y = -5 + (i % 12) * 0.5, 42 + (i // 12) * 0.5
        rows.append({"INSEE_DEP": code, "NOM": f"Département {code}", "NOM_M": code,
                     "INSEE_REG": "00", "geometry": shapely.box(x, y, x + 0.1, y + 0.1)})
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


def build_archive(tmp: Path, frame: gpd.GeoDataFrame) -> bytes:
    """A 7z shaped like IGN's delivery, with the DEPARTEMENT layer deep inside."""
    root = tmp / EDITION_2021
    layer_dir = (root / "ADMIN-EXPRESS-COG-CARTO" / "1_DONNEES_LIVRAISON_2021-05-00156"
                 / "ADECOGC_3-0_SHP_WGS84G_FRA")
    layer_dir.mkdir(parents=True)
    frame.to_file(layer_dir / "DEPARTEMENT.shp", engine="pyogrio")
    frame.head(3).to_file(layer_dir / "REGION.shp", engine="pyogrio")
    (root / "LISEZ-MOI.txt").write_text("synthetic test delivery\n")
    archive = tmp / "archive.7z"
    with py7zr.SevenZipFile(archive, "w") as z:
        z.writeall(root, arcname=EDITION_2021)
    return archive.read_bytes()


@pytest.fixture(scope="module")
def archive_101(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build_archive(tmp_path_factory.mktemp("ign"), squares())


# --- Cache folder ---------------------------------------------------------------------------
def test_cache_dir_argument_beats_environment(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("ECOLES_MAP_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("ECOLES_MAP_CACHE")
    assert resolve_cache_dir().name == "ecoles-map"


# --- HTTP layer -----------------------------------------------------------------------------
def test_rate_limiter_spaces_calls() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.wait()
    assert waits == [0.25, 0.25]


def test_rate_above_the_ign_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="50"):
        HttpClient(rate=51)


def test_user_agent_names_the_project() -> None:
    session = online.make_session()
    assert session.headers["User-Agent"].startswith("ecoles-map/")
    session.close()


def test_429_then_success_honours_retry_after(served: Served, client: HttpClient,
                                              sleeps: list[float]) -> None:
    served.routes["/data"] = b"hello"
    served.script = [("status", 429, {"Retry-After": "7"})]
    response = client.get(served.url + "/data")
    assert response.content == b"hello"
    assert sleeps == [7.0]
    assert len(served.log) == 2


def test_5xx_retries_exhausted_raise_network_error(served: Served, client: HttpClient,
                                                   sleeps: list[float]) -> None:
    served.routes["/data"] = b"never"
    served.script = [("status", 503, {})] * 4
    with pytest.raises(NetworkError, match=r"après 4 essais.*HTTP 503") as err:
        client.get(served.url + "/data")
    assert "--boundaries embedded" in str(err.value)
    assert sleeps == [1.0, 2.0]  # urllib3's backoff: none before the first retry, then 0.5 * 2**n
    assert len(served.log) == 4


def test_404_is_not_retried(served: Served, client: HttpClient) -> None:
    with pytest.raises(NetworkError, match="HTTP 404"):
        client.get(served.url + "/nothing-here")
    assert len(served.log) == 1


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_network_fails_at_once_with_a_helpful_message(client: HttpClient,
                                                         sleeps: list[float]) -> None:
    url = f"http://127.0.0.1:{unused_port()}/x.7z"
    with pytest.raises(NetworkError) as err:
        client.get(url)
    message = str(err.value)
    assert url in message
    assert "--boundaries embedded" in message and "--geocoder embedded" in message
    assert sleeps == []


# --- Downloads ------------------------------------------------------------------------------
PAYLOAD = bytes(range(256)) * 800  # 204,800 bytes
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_verifies_and_renames(served: Served, client: HttpClient,
                                       tmp_path: Path) -> None:
    served.routes["/f.bin"] = PAYLOAD
    seen: list[tuple[int, int | None]] = []
    dest = download(served.url + "/f.bin", tmp_path / "f.bin", expected_size=len(PAYLOAD),
                    sha256=PAYLOAD_SHA, progress=lambda d, t: seen.append((d, t)),
                    client=client)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    download(served.url + "/f.bin", dest, sha256=PAYLOAD_SHA, client=client)
    assert len(served.log) == 1  # already there and verified: no request


def test_cut_download_keeps_part_then_resumes_with_range(served: Served, client: HttpClient,
                                                         tmp_path: Path) -> None:
    served.routes["/f.bin"] = PAYLOAD
    served.script = [("cut", 70_000)]
    dest = tmp_path / "f.bin"
    with pytest.raises(NetworkError, match="relancez la même commande pour"):
        download(served.url + "/f.bin", dest, sha256=PAYLOAD_SHA, client=client)
    part = tmp_path / "f.bin.part"
    assert not dest.exists()
    kept = part.stat().st_size
    assert 0 < kept <= 70_000
    assert part.read_bytes() == PAYLOAD[:kept]

    download(served.url + "/f.bin", dest, sha256=PAYLOAD_SHA, client=client)
    assert served.log[-1][1] == f"bytes={kept}-"
    assert dest.read_bytes() == PAYLOAD
    assert not part.exists()


def test_server_ignoring_range_restarts_cleanly(served: Served, client: HttpClient,
                                                tmp_path: Path) -> None:
    served.routes["/f.bin"] = PAYLOAD
    served.honour_range = False
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes of another version")
    dest = download(served.url + "/f.bin", tmp_path / "f.bin", sha256=PAYLOAD_SHA,
                    client=client)
    assert served.log[0][1] == "bytes=30-"
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_the_part(served: Served, client: HttpClient,
                                            tmp_path: Path) -> None:
    served.routes["/f.bin"] = PAYLOAD
    with pytest.raises(NetworkError, match=r"corrompu.*sha256"):
        download(served.url + "/f.bin", tmp_path / "f.bin", sha256="0" * 64, client=client)
    assert list(tmp_path.iterdir()) == []


# --- IGN départements -----------------------------------------------------------------------
def test_fetch_ign_departements_then_cache(served: Served, client: HttpClient,
                                           tmp_path: Path, archive_101: bytes) -> None:
    served.routes[ARCHIVE_PATH] = archive_101
    progress: list[tuple[int, int | None]] = []
    first, provenance = fetch_ign_departements(
        edition="2021", cache_dir=tmp_path, client=client, base_url=served.url,
        progress=lambda d, t: progress.append((d, t)))
    assert list(first.columns) == ["code", "nom", "geometry"]
    assert list(first["code"]) == list(DEPARTEMENT_CODES)
    assert first.crs == "EPSG:4326"
    assert set(first.geom_type) == {"MultiPolygon"}
    assert first.loc[first["code"] == "2A", "nom"].item() == "Département 2A"
    assert provenance.source == "IGN – ADMIN EXPRESS COG CARTO 2021"
    assert provenance.licence == "Licence Ouverte 2.0"
    assert provenance.edition == EDITION_2021
    assert progress[-1] == (len(archive_101), len(archive_101))
    # The archive is gone once read; only the small normalised layer stays.
    assert sorted(p.name for p in (tmp_path / "ign").iterdir()) == ["departements-2021.gpkg"]

    second, again = fetch_ign_departements(edition="2021", cache_dir=tmp_path, client=client,
                                           base_url=served.url)
    assert len(served.log) == 1  # no request the second time
    assert_geodataframe_equal(first, second)
    assert again == provenance


@pytest.mark.parametrize("damage", ["garbage", "truncated", "incomplete"])
def test_damaged_cache_is_fetched_again(served: Served, client: HttpClient, tmp_path: Path,
                                        archive_101: bytes, damage: str,
                                        caplog: pytest.LogCaptureFixture) -> None:
    served.routes[ARCHIVE_PATH] = archive_101
    fetch_ign_departements(cache_dir=tmp_path, client=client, base_url=served.url)
    cached = tmp_path / "ign" / "departements-2021.gpkg"
    if damage == "garbage":
        cached.write_bytes(b"not a geopackage")
    elif damage == "truncated":
        cached.write_bytes(cached.read_bytes()[:5000])
    else:
        squares(DEPARTEMENT_CODES[:-1]).rename(
            columns={"INSEE_DEP": "code", "NOM": "nom"}).to_file(cached, layer="departements",
                                                                engine="pyogrio")
    with caplog.at_level(logging.WARNING, logger="pipeline.sources.ign"):
        again, _ = fetch_ign_departements(cache_dir=tmp_path, client=client,
                                          base_url=served.url)
    assert len(again) == 101
    assert len(served.log) == 2
    assert "nouveau téléchargement" in caplog.text


def test_missing_departements_raise_boundary_error(served: Served, client: HttpClient,
                                                   tmp_path: Path) -> None:
    codes = tuple(c for c in DEPARTEMENT_CODES if c not in {"2A", "976"})
    served.routes[ARCHIVE_PATH] = build_archive(tmp_path / "build", squares(codes))
    with pytest.raises(BoundaryError, match=r"99 départements.*2 manquant\(s\) : 2A, 976"):
        fetch_ign_departements(cache_dir=tmp_path / "cache", client=client,
                               base_url=served.url)
    assert not (tmp_path / "cache" / "ign" / "departements-2021.gpkg").exists()


def test_damaged_archive_is_deleted_with_a_clear_error(served: Served, client: HttpClient,
                                                       tmp_path: Path,
                                                       archive_101: bytes) -> None:
    served.routes[ARCHIVE_PATH] = archive_101[:32] + b"\0" * (len(archive_101) - 32)
    with pytest.raises(BoundaryError, match="archive 7z endommagée"):
        fetch_ign_departements(cache_dir=tmp_path, client=client, base_url=served.url)
    assert not any((tmp_path / "ign").glob("*.7z"))


def test_4_0_geopackage_edition(served: Served, client: HttpClient, tmp_path: Path) -> None:
    build = tmp_path / "build" / ign_editions()["2026_gpkg"]
    build.mkdir(parents=True)
    four = squares().rename(columns={"INSEE_DEP": "code_insee", "NOM": "nom_officiel"})
    four.rename_geometry("geometrie").to_file(build / "ADE-COG-CARTO_4-0.gpkg",
                                              layer="departement", engine="pyogrio")
    with py7zr.SevenZipFile(tmp_path / "a.7z", "w") as z:
        z.writeall(build, arcname=build.name)
    served.routes[archive_path("2026_gpkg")] = (tmp_path / "a.7z").read_bytes()
    got, provenance = fetch_ign_departements(edition="2026_gpkg", cache_dir=tmp_path / "cache",
                                             client=client, base_url=served.url)
    assert list(got.columns) == ["code", "nom", "geometry"]
    assert list(got["code"]) == list(DEPARTEMENT_CODES)
    assert provenance.source == "IGN – ADMIN EXPRESS COG CARTO 2026"


def test_unknown_edition() -> None:
    with pytest.raises(BoundaryError, match=r"édition IGN inconnue '2019'.*latest"):
        fetch_ign_departements(edition="2019")


def test_latest_edition_reads_the_wfs_4_0_schema(served: Served, client: HttpClient,
                                                 tmp_path: Path) -> None:
    wfs = squares().rename(columns={"INSEE_DEP": "code_insee", "NOM": "nom_officiel"})
    served.routes["/wfs/ows"] = lambda query: json.loads(wfs.to_json())
    latest, provenance = fetch_ign_departements(edition="latest", cache_dir=tmp_path,
                                                client=client, base_url=served.url)
    assert list(latest["code"]) == list(DEPARTEMENT_CODES)
    query = parse_qs(urlsplit(served.log[0][0]).query)
    assert query["TYPENAMES"] == ["ADMINEXPRESS-COG-CARTO.LATEST:departement"]
    assert query["SRSNAME"] == ["EPSG:4326"]
    assert provenance.edition == "latest"
    assert (tmp_path / "ign" / "departements-latest.gpkg").exists()


# --- Communes and addresses -----------------------------------------------------------------
def commune(code: str, nom: str, dep: str, x: float, y: float) -> dict[str, Any]:
    return {"code": code, "nom": nom, "codeDepartement": dep, "population": 1000,
            "centre": {"type": "Point", "coordinates": [x, y]}}


GEO_API = {
    "Compiègne": [commune("60159", "Compiègne", "60", 2.8, 49.4)],
    "Flers": [commune("61169", "Flers", "61", -0.57, 48.75),
              commune("62338", "Flers", "62", 2.25, 50.31),
              commune("80316", "Flers", "80", 2.82, 50.05)],
    "Vire": [commune("14762", "Vire Normandie", "14", -0.89, 48.84)],
    "Évry": [commune("89162", "Évry", "89", 3.26, 48.26)],
    "Évry-Courcouronnes": [commune("91228", "Évry-Courcouronnes", "91", 2.44, 48.63)],
    "Cherbourg": [commune("50129", "Cherbourg-en-Cotentin", "50", -1.62, 49.64)],
    "Beaumont": [commune("84014", "Beaumont-de-Pertuis", "84", 5.69, 43.74),
                 commune("84015", "Beaumont-du-Ventoux", "84", 5.17, 44.18)],
}


def geo_api(query: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Like the real API: case- and accent-insensitive on the name."""
    wanted = fold_name(query["nom"][0])
    found = next((v for k, v in GEO_API.items() if fold_name(k) == wanted), [])
    if "codeDepartement" in query:
        found = [c for c in found if c["codeDepartement"] == query["codeDepartement"][0]]
    return found


def test_geocode_online(served: Served, client: HttpClient, tmp_path: Path) -> None:
    served.routes["/communes"] = geo_api
    sites = pd.DataFrame({"id": ["a", "b", "c", "d", "e"],
                          "commune": ["COMPIEGNE", "Flers", "Flers", "Vire", "Nulle-Part"],
                          "departement": ["60", None, "61", "14", "01"]})
    coder = GeoApiGeocoder(cache_dir=tmp_path, client=client, base_url=served.url)
    out = geocode_online(sites, geocoder=coder)
    assert list(out.columns) == [*sites.columns, "code_insee", "nom_commune", "longitude",
                                 "latitude", "methode", "statut_geocodage"]
    assert list(out["statut_geocodage"]) == ["ok", "ambigu", "ok", "introuvable",
                                             "introuvable"]
    assert out.loc[0, "code_insee"] == "60159" and out.loc[0, "nom_commune"] == "Compiègne"
    assert (out.loc[0, "longitude"], out.loc[0, "latitude"]) == (2.8, 49.4)
    assert out.loc[2, "code_insee"] == "61169"
    assert out.loc[1:, "longitude"].isna().tolist() == [True, False, True, True]
    assert out.loc[0, "methode"] == "geo.api.gouv.fr"
    assert out.loc[1, "methode"] == ("geo.api.gouv.fr : plusieurs communes "
                                     "(Flers (61), Flers (62), Flers (80))")
    assert out.loc[3, "methode"] == ("geo.api.gouv.fr : aucun nom identique "
                                     "(proposé : Vire Normandie (14))")
    assert out.loc[4, "methode"] == "geo.api.gouv.fr : aucune commune"
    assert "codeDepartement=60" in served.log[0][0] and "boost=population" in served.log[0][0]
    assert "codeDepartement=" not in served.log[1][0]
    assert "statut_geocodage" not in sites.columns  # input untouched

    requests_before = len(served.log)
    fresh = GeoApiGeocoder(cache_dir=tmp_path, client=client, base_url=served.url)
    pd.testing.assert_frame_equal(geocode_online(sites, geocoder=fresh), out)
    assert len(served.log) == requests_before  # answered from the disk cache


@pytest.mark.slow
def test_geocode_online_former_names_follow_the_embedded_rule(
        served: Served, client: HttpClient, tmp_path: Path) -> None:
    served.routes["/communes"] = geo_api
    sites = pd.DataFrame({"commune": ["Courcouronnes", "Courcouronnes", "Évry", "Cherbourg",
                                      "Beaumont", "Courcouronnes"],
                          "departement": ["91", "77", "91", "50", "84", None]})
    coder = GeoApiGeocoder(cache_dir=tmp_path, client=client, base_url=served.url)
    out = geocode_online(sites, geocoder=coder)
    assert list(out["statut_geocodage"]) == ["ok", "introuvable", "ok", "ok", "ambigu",
                                             "introuvable"]
    # absorbed in 2019 without a commune déléguée: the API knows only Évry-Courcouronnes
    assert (out.loc[0, "code_insee"], out.loc[0, "nom_commune"]) == ("91228",
                                                                     "Évry-Courcouronnes")
    assert (out.loc[0, "longitude"], out.loc[0, "latitude"]) == (2.44, 48.63)
    assert out.loc[0, "methode"] == ("geo.api.gouv.fr, ancien nom (fusion 2019) "
                                     "d'Évry-Courcouronnes")
    assert out.loc[2, "code_insee"] == "91228"  # not Évry (89), which the API proposed
    # proposed by the API itself (fuzzy answer): accepted as the one current commune
    assert out.loc[3, "methode"] == ("geo.api.gouv.fr, ancien nom (fusion 2000) "
                                     "de Cherbourg-en-Cotentin")
    assert out.loc[4, "methode"] == (
        "geo.api.gouv.fr : ancien nom de plusieurs communes actuelles (84014 "
        "Beaumont-de-Pertuis (84), 84015 Beaumont-du-Ventoux (84))")
    assert pd.isna(out.loc[1, "code_insee"]) and pd.isna(out.loc[5, "code_insee"])
    asked = [parse_qs(urlsplit(path).query)["nom"][0] for path, _ in served.log]
    assert "Évry-Courcouronnes" in asked
    # The rule holds on cached answers too: same result, no request.
    before = len(served.log)
    fresh = GeoApiGeocoder(cache_dir=tmp_path, client=client, base_url=served.url)
    pd.testing.assert_frame_equal(geocode_online(sites, geocoder=fresh), out)
    assert len(served.log) == before


def test_choose_commune_applies_the_former_name_rule() -> None:
    from pipeline.sources.geoapi import CommuneCandidate, choose_commune
    from pipeline.steps.geocode import FormerName

    proposed = [CommuneCandidate("91228", "Évry-Courcouronnes", "91", 2.4, 48.6, 66_000)]
    one = [FormerName("Courcouronnes", "91228", "Évry-Courcouronnes", "91", "fusion 2019")]
    assert choose_commune("Courcouronnes", "91", proposed, former=one)[0] == "ok"
    assert choose_commune("Courcouronnes", "91", proposed)[0] == "introuvable"
    assert choose_commune("Courcouronnes", "91", [], former=one)[0] == "introuvable"
    two = [*one, FormerName("Courcouronnes", "91999", "Ailleurs", "91", "fusion 1973")]
    assert choose_commune("Courcouronnes", "91", proposed, former=two)[0] == "ambigu"


def test_geocode_online_offline_says_how_to_work_offline(tmp_path: Path) -> None:
    port = unused_port()
    with requests.Session() as session:
        coder = GeoApiGeocoder(cache_dir=tmp_path, session=session,
                               base_url=f"http://127.0.0.1:{port}")
        with pytest.raises(NetworkError, match="--geocoder embedded"):
            geocode_online(pd.DataFrame({"commune": ["Flers"]}), geocoder=coder)


def test_read_departements_ign_uses_the_cache_named_by_the_environment(
        served: Served, client: HttpClient, tmp_path: Path, archive_101: bytes,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.sources.inputs import read_departements

    served.routes[ARCHIVE_PATH] = archive_101
    fetched, _ = fetch_ign_departements(cache_dir=tmp_path, client=client, base_url=served.url)
    monkeypatch.setenv("ECOLES_MAP_CACHE", str(tmp_path))
    # No client, no base_url: this would go to data.geopf.fr if the cache were not used.
    cached, provenance = read_departements("ign", edition="2021")
    assert_geodataframe_equal(fetched, cached)
    assert provenance.url.startswith("https://data.geopf.fr/telechargement/")
