"""IGN ADMIN EXPRESS COG CARTO départements, downloaded from the Géoplateforme and cached.

Editions ``"2021"``...``"2025"`` are 7z archives of shapefiles (3.x), ``"2025_gpkg"`` and
``"2026_gpkg"`` archives of a GeoPackage (4.0), ``"latest"`` the WFS. The normalised layer is
cached per edition, so later runs make no request.

Bounds: an archive download ends within :data:`ARCHIVE_DEADLINE` (cut, it resumes on the next
run) and is at most :data:`ARCHIVE_MAX_BYTES`; it is checked against the sha256 recorded for its
edition in ``sources.json`` when one is recorded; it is refused before extraction when it
declares more than :data:`MAX_EXTRACT_BYTES` unpacked for the départements. A WFS answer is at
most :data:`WFS_MAX_BYTES`. ``ECOLES_MAP_IGN_DOWNLOAD_URL`` and ``ECOLES_MAP_IGN_WFS_URL``
point them at a mirror.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Final

from pipeline.atomic import disk_error
from pipeline.config import IGN_LATEST
from pipeline.errors import BoundaryError, PipelineError
from pipeline.provenance import Provenance
from pipeline.schema import DEPARTEMENT_CODES as _CODES
from pipeline.sources.http import (
    CACHE_HINT,
    IGN_DOWNLOAD_URL_ENV,
    IGN_WFS_URL_ENV,
    HttpClient,
    Progress,
    base_url_from_env,
    client_for,
    download,
    ensure_cache_dir,
    rebase,
    resolve_cache_dir,
    source_entry,
)
from pipeline.steps.boundaries import normalize_departements

if TYPE_CHECKING:
    import geopandas as gpd
    import py7zr
    import requests

log = logging.getLogger(__name__)

#: Keys of pipeline/data/sources.json used here (URLs, editions, attributions live there).
IGN_ARCHIVES_KEY: Final = "ign_admin_express_cog_carto"
IGN_WFS_KEY: Final = "ign_wfs_departements"
LATEST: Final = IGN_LATEST
#: Refuse to unpack more than this from an archive (the real DEPARTEMENT layer is ~50 MB; a
#: 4.0 GeoPackage holds every layer). Checked on the sizes the archive declares, before
#: anything is written, and again while extracting.
MAX_EXTRACT_BYTES = 2 * 1024**3
#: Largest archive downloaded (the 3.x and 4.0 archives are a few hundred MB).
ARCHIVE_MAX_BYTES = 2 * 1024**3
#: Overall deadline of an archive download, in seconds (about 1 MB/s for the largest).
ARCHIVE_DEADLINE = 1800.0
#: Largest WFS answer read (the 101 départements in GeoJSON are some tens of MB).
WFS_MAX_BYTES = 256 * 1024**2
SHAPEFILE_PARTS: Final = (".shp", ".shx", ".dbf", ".prj", ".cpg")
#: Layer of the départements in ADMIN EXPRESS 4.0 GeoPackages.
GPKG_LAYER: Final = "departement"
#: Layer of the cached, normalised GeoPackage.
GPKG_CACHE_LAYER: Final = "departements"
#: The 101 départements: 01-95 with 2A/2B instead of 20, and five overseas.
DEPARTEMENT_CODES: Final = tuple(sorted(_CODES))


def ign_editions() -> dict[str, str]:
    """Return the IGN ADMIN EXPRESS COG CARTO editions: short name → delivery name.

    Returns
    -------
    dict
        E.g. ``{"2021": "ADMIN-EXPRESS-COG-CARTO_3-0__SHP_WGS84G_FRA_2021-05-19", ...}``,
        read from ``pipeline/data/sources.json``; ``"latest"`` (the WFS) is not listed.
    """
    return dict(source_entry(IGN_ARCHIVES_KEY)["editions"])


def ign_provenance(edition: str, url: str) -> Provenance:
    """Return the provenance of départements fetched from IGN.

    Parameters
    ----------
    edition
        A key of :func:`ign_editions`, or ``"latest"``.
    url
        Where the data came from.

    Returns
    -------
    Provenance
        The attribution line, edition (the delivery name), licence and URL.
    """
    if edition == LATEST:
        entry = source_entry(IGN_WFS_KEY)
        return Provenance(source=entry["attribution"], edition=LATEST,
                          licence=entry["licence"], url=url)
    entry = source_entry(IGN_ARCHIVES_KEY)
    return Provenance(source=entry["attribution"].format(edition=edition.removesuffix("_gpkg")),
                      edition=entry["editions"][edition], licence=entry["licence"], url=url)


def _validate_departements(departements: gpd.GeoDataFrame, *, origin: str) -> None:
    """Raise BoundaryError unless the 101 expected codes are there, once each."""
    codes = list(departements["code"])
    missing = sorted(set(DEPARTEMENT_CODES) - set(codes))
    extra = sorted(set(codes) - set(DEPARTEMENT_CODES))
    twice = sorted({c for c in codes if codes.count(c) > 1})
    problems = []
    if missing:
        problems.append(f"{len(missing)} manquant(s) : {', '.join(missing)}")
    if extra:
        problems.append(f"codes inattendus : {', '.join(extra)}")
    if twice:
        problems.append(f"codes répétés : {', '.join(twice)}")
    if departements.geometry.isna().any() or departements.geometry.is_empty.any():
        problems.append("des départements n'ont pas de géométrie")
    if problems:
        raise BoundaryError(
            f"{origin}: {len(codes)} départements au lieu des {len(DEPARTEMENT_CODES)} "
            f"attendus ({' ; '.join(problems)}). Essayez une autre `--edition`, ou "
            "`--boundaries embedded`."
        )


def archive_sha256(edition: str) -> str | None:
    """Return the sha256 recorded for an edition's archive in ``sources.json``, if any."""
    recorded: str | None = (source_entry(IGN_ARCHIVES_KEY).get("sha256") or {}).get(edition)
    return recorded


def _refuse_special(path: Path) -> None:
    """Refuse a cached GeoPackage that is a folder or a special file (it would never heal)."""
    if path.exists() and not path.is_file():
        raise BoundaryError(
            f"{path} : le GeoPackage du cache est un dossier ou un fichier spécial ; "
            "supprimez-le (ce n'est qu'un cache), puis relancez la commande."
        )


def _read_cached(path: Path) -> gpd.GeoDataFrame | None:
    """Read a cached normalised layer; None (after a warning) if absent or damaged."""
    if not path.exists():
        return None
    import pyogrio

    try:
        cached = pyogrio.read_dataframe(path, layer=GPKG_CACHE_LAYER)
        if list(cached.columns) != ["code", "nom", "geometry"]:
            raise ValueError(f"colonnes {list(cached.columns)}")
        _validate_departements(cached, origin=str(path))
    except Exception as exc:  # any damage means: fetch again
        log.warning("départements en cache %s illisibles ou incomplets (%s) ; "
                    "nouveau téléchargement", path, exc)
        with contextlib.suppress(OSError):  # read-only: the fresh copy replaces it, or says why
            path.unlink(missing_ok=True)
        return None
    return cached.sort_values("code", kind="stable", ignore_index=True)


def _write_cache(departements: gpd.GeoDataFrame, target: Path) -> None:
    """Write the cache GeoPackage next to ``target``, then rename (GDAL wants .gpkg)."""
    import pyogrio

    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".write-") as work_dir:
            work = Path(work_dir) / target.name
            pyogrio.write_dataframe(departements, work, driver="GPKG", layer=GPKG_CACHE_LAYER)
            os.replace(work, target)
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        reason = (disk_error(exc) if isinstance(exc, OSError) else None) or str(exc)
        raise PipelineError(f"impossible d'écrire le cache {target} ({reason}) ; libérez de "
                            f"la place ou {CACHE_HINT}.") from exc


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
            _check_unpacked_size(archive, workdir, z, targets)
            if targets:
                z.extract(path=workdir, targets=targets)
    except py7zr.exceptions.DecompressionBombError as exc:
        raise BoundaryError(f"{archive}: l'archive se décompresse en plus que prévu ({exc}) ; "
                            "elle a été supprimée.") from exc
    except OSError as exc:
        reason = disk_error(exc)
        if reason is None:
            raise BoundaryError(
                f"{archive}: archive 7z endommagée ({type(exc).__name__} : {exc}) ; elle a été "
                "supprimée, relancez la commande pour la télécharger à nouveau."
            ) from exc
        raise BoundaryError(f"{archive}: impossible de décompresser ({reason}) ; libérez de "
                            f"la place ou {CACHE_HINT}.") from exc
    except (py7zr.exceptions.ArchiveError, py7zr.exceptions.Bad7zFile,
            py7zr.exceptions.CrcError, EOFError) as exc:
        raise BoundaryError(
            f"{archive}: archive 7z endommagée ({type(exc).__name__} : {exc}) ; elle a été "
            "supprimée, relancez la commande pour la télécharger à nouveau."
        ) from exc
    found = sorted(workdir.glob("**/DEPARTEMENT.shp"))
    layer = None
    if not found:
        found = sorted(workdir.glob("**/*.gpkg"))
        layer = GPKG_LAYER
    if len(found) != 1:
        raise BoundaryError(
            f"{archive}: un DEPARTEMENT.shp (ou un GeoPackage) était attendu dans l'archive, "
            f"{len(found)} trouvé(s) "
            f"({', '.join(str(p.relative_to(workdir)) for p in found) or 'aucun'}). Le "
            "format de livraison a peut-être changé ; utilisez `--boundaries embedded`."
        )
    try:
        return pyogrio.read_dataframe(found[0], layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise BoundaryError(f"{archive}: impossible de lire {found[0].name} ({exc})"
                            ) from exc


def _check_unpacked_size(archive: Path, workdir: Path, z: py7zr.SevenZipFile,
                         targets: list[str]) -> None:
    """Refuse an archive whose files to extract declare more than :data:`MAX_EXTRACT_BYTES`."""
    wanted = set(targets)
    declared = sum(int(info.uncompressed or 0) for info in z.list() if info.filename in wanted)
    if declared > MAX_EXTRACT_BYTES:
        raise BoundaryError(
            f"{archive}: l'archive annonce {declared} octets décompressés pour la couche des "
            f"départements, plus que la limite de {MAX_EXTRACT_BYTES} octets ; ce n'est pas une "
            "livraison IGN ordinaire. Elle a été supprimée ; utilisez `--boundaries embedded` "
            "ou une autre `--edition`."
        )
    free = shutil.disk_usage(workdir).free
    if declared > free:
        raise BoundaryError(
            f"{archive}: {declared} octets à décompresser mais {free} seulement de libres dans "
            f"{workdir.parent} ; libérez de la place ou {CACHE_HINT}."
        )


def _swap_if_latlon(departements: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Swap axes if a service answered in latitude/longitude order (Paris at x > 40)."""
    import shapely

    paris = departements.loc[departements["code"] == "75", "geometry"]
    if len(paris) and paris.iloc[0].representative_point().x > 40:
        log.warning("le WFS a répondu dans l'ordre latitude/longitude ; axes inversés")
        departements = departements.copy()
        departements.geometry = shapely.transform(
            departements.geometry.values, lambda xy: xy[:, ::-1])
    return departements


def fetch_ign_departements(*, edition: str = "2021",
                           cache_dir: str | os.PathLike[str] | None = None,
                           session: requests.Session | None = None,
                           progress: Progress | None = None,
                           client: HttpClient | None = None, base_url: str | None = None,
                           refresh: bool = False) -> tuple[gpd.GeoDataFrame, Provenance]:
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
    departements : geopandas.GeoDataFrame
        ``code``, ``nom``, geometry (MultiPolygon, EPSG:4326), sorted by ``code``.
    provenance : Provenance
        From :func:`ign_provenance`.

    Raises
    ------
    BoundaryError
        If the edition is unknown, or the data is damaged or lacks départements.
    NetworkError
        If the service cannot be reached.
    """
    import pyogrio

    editions = ign_editions()
    if edition != LATEST and edition not in editions:
        raise BoundaryError(
            f"édition IGN inconnue {edition!r} ; choisissez parmi "
            f"{', '.join([*editions, LATEST])}."
        )
    folder = resolve_cache_dir(cache_dir) / "ign"
    cached_path = folder / f"departements-{edition}.gpkg"
    if edition == LATEST:
        url = rebase(source_entry(IGN_WFS_KEY)["url"],
                     base_url_from_env(IGN_WFS_URL_ENV, base_url))
    else:
        entry = source_entry(IGN_ARCHIVES_KEY)
        url = rebase(entry["url"].format(resource=entry["resource"],
                                          edition=editions[edition]),
                     base_url_from_env(IGN_DOWNLOAD_URL_ENV, base_url))
    _refuse_special(cached_path)
    if not refresh:
        cached = _read_cached(cached_path)
        if cached is not None:
            log.info("départements IGN %s lus dans le cache %s", edition, cached_path)
            return cached, ign_provenance(edition, url)
    ensure_cache_dir(folder)
    http = client_for(client, session)
    if edition == LATEST:
        answer = http.get(url, max_bytes=WFS_MAX_BYTES)
        try:
            raw = pyogrio.read_dataframe(answer.content)
        except Exception as exc:
            raise BoundaryError(
                f"{url}: la réponse du WFS n'est pas du GeoJSON lisible ({exc}) ; réessayez "
                "plus tard ou utilisez `--boundaries embedded`."
            ) from exc
        departements = _swap_if_latlon(normalize_departements(raw, origin=url))
    else:
        archive = folder / f"{editions[edition]}.7z"
        sha256 = archive_sha256(edition)
        if sha256 is None:
            log.info("aucun sha256 enregistré pour l'archive IGN %s dans sources.json : elle "
                     "n'est vérifiée que par sa taille annoncée", edition)
        download(url, archive, progress=progress, client=http, sha256=sha256,
                 max_bytes=ARCHIVE_MAX_BYTES, deadline=ARCHIVE_DEADLINE)
        try:
            with tempfile.TemporaryDirectory(dir=folder, prefix=".extract-") as tmp:
                raw = _read_departement_layer(archive, Path(tmp))
            departements = normalize_departements(raw, origin=f"{url} (DEPARTEMENT)")
        except BoundaryError:
            archive.unlink(missing_ok=True)
            raise
        archive.unlink(missing_ok=True)
    _validate_departements(departements, origin=url)
    _write_cache(departements, cached_path)
    return departements, ign_provenance(edition, url)
