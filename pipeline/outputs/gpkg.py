"""The analysts' GeoPackage: sites, départements and their reach, metadata and QGIS styles inside.

Layers ``ecoles`` (points), ``departements`` (polygons) and, when the snapshot measured its
reach, ``communes_acces`` (a point per commune) in EPSG:4326, primary key ``fid``,
geometry column ``geom``, R-tree spatial index, a French title and abstract per layer in
``gpkg_contents``, dataset metadata (sources, editions, licences, annex date, pipeline
version) and a ``layer_styles`` table that QGIS loads as each layer's default style
(MAP.md §5). The file is written atomically and byte-deterministically.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from pipeline import __version__
from pipeline.config import ANNEX_DATE, STORAGE_CRS
from pipeline.errors import PipelineError, RenderError
from pipeline.french import french_date
from pipeline.outputs.files import atomic_path
from pipeline.outputs.qgis_styles import (
    communes_qml,
    communes_sld,
    departements_qml,
    departements_sld,
    ecoles_qml,
    ecoles_sld,
)
from pipeline.provenance import Provenance
from pipeline.schema import (
    COMMUNES_COLUMNS,
    COMMUNES_LAYER,
    DEPARTEMENT_PLACE_COLUMNS,
    ECOLES_COLUMNS,
    HISTORY_TABLE,
)

LAYER_TITLES = {
    "ecoles": "Écoles de production et lauréats de l'AMI (23 novembre 2021)",
    "departements": "Couverture des départements par les écoles de production (2021)",
}
LAYER_DESCRIPTIONS = {
    "ecoles": (
        "Un point par site : écoles de production existantes au 23 novembre 2021 et lauréats "
        "de l'AMI Écoles de production (ingénierie, investissement), placés au centre de leur "
        "commune. La colonne categorie donne le symbole de la carte (la catégorie de lauréat "
        "l'emporte sur « existante ») ; etiquette reprend le libellé de l'annexe (lieu + "
        "métier) ; confiance et sources documentent chaque ligne."
    ),
    "departements": (
        "Départements (COG) et leur couverture : deja_couvert (au moins une école existante "
        "au 23 novembre 2021), nouvellement_couvert (aucune école existante mais au moins un "
        "lauréat de l'AMI), non_couvert. Calculé sur la géométrie réelle des départements."
    ),
}
STYLE_DESCRIPTIONS = {
    "ecoles": "Symboles de la carte de l'annexe : cercle bleu (existante), triangle rouge "
              "(ingénierie), carré sarcelle (investissement), étiquettes lieu + métier.",
    "departements": "Départements colorés selon leur couverture par les écoles de production.",
    COMMUNES_LAYER: "Communes colorées selon la distance au site le plus proche, du jaune "
                    "pâle (proche) au brun foncé (loin), classes aux seuils d'accès.",
}
#: What a reach adds to the descriptions of the layers (the thresholds are filled in).
REACH_DEPARTEMENTS_DESCRIPTION = (
    " code_region et nom_region : la région (COG). Accès : population et jeunes_0_19 "
    "(INSEE, RP 2021, jeunes de 0 à 19 ans ; NULL à Mayotte, sans données par âge), puis "
    "pour chaque seuil T ({seuils} km) jeunes_Tkm et part_jeunes_Tkm (0–1) : les jeunes dont "
    "la commune est à moins de T km d'un site{existantes}. methode_distance : ligne_droite "
    "(à vol d'oiseau) ou estimation_route (vol d'oiseau × facteur_detour). Précautions : "
    "0 à 19 ans et non 15 à 18 ; distance depuis la mairie ; un bassin, pas une capacité."
)
REACH_EXISTING = (" ; part_jeunes_Tkm_existantes : la même part avec les seules écoles "
                  "existantes, sans les lauréats de l'AMI")
PLACES_DESCRIPTION = (" nom_departement, code_region et nom_region nomment le département et "
                      "la région du site (COG).")
#: Title and description of the table of reach per département (and France) per date.
REACH_HISTORY_TABLE = "acces_historique"
REACH_HISTORY_TITLE = "Accès des jeunes aux écoles de production par date"
REACH_HISTORY_DESCRIPTION = (
    "Une ligne par date pour la France (perimetre = france, departement NULL), puis une par "
    "département et par date : nb_sites ouverts, jeunes_0_19 (INSEE, RP 2021), pour chaque "
    "seuil T jeunes_Tkm et part_jeunes_Tkm (0–1), methode_distance. Seuls les sites ouverts à "
    "la date comptent. Exemple : SELECT date, part_jeunes_30km FROM acces_historique WHERE "
    "perimetre = 'france' ORDER BY date;"
)
#: Title and description of the table of coverage per département per date.
HISTORY_TITLE = "Couverture des départements par date (annexe du 23 novembre 2021, puis chaque " \
    "31 décembre)"
HISTORY_DESCRIPTION = (
    "Une ligne par département et par date : statut (couvert_avant_annexe, "
    "couvert_depuis_annexe, annonce, non_couvert), nombre d'écoles ouvertes et de lauréats "
    "annoncés, premiere_ouverture (plus ancienne date d'ouverture connue ; "
    "precision_premiere_ouverture au_plus_tard : une école comptée à l'annexe n'a pas de date, "
    "la première a ouvert ce jour-là ou avant). « Quand l'Aisne "
    "a-t-elle eu sa première école ? » : SELECT date, premiere_ouverture FROM "
    "couverture_historique WHERE departement = '02' AND nb_ecoles_ouvertes > 0 ORDER BY date "
    "LIMIT 1;"
)
#: Name of the geometry and primary key columns (MAP.md §5).
GEOMETRY_COLUMN = "geom"
FID_COLUMN = "fid"


def coverage_metadata(sources: Mapping[str, Any] | None = None, *,
                      provenance: Provenance | None = None) -> dict[str, str]:
    """Build the GeoPackage's dataset metadata from the registry of sources.

    Parameters
    ----------
    sources
        Parsed ``pipeline/data/sources.json`` (default :func:`pipeline.config.sources`),
        with ``sources`` (external sources) and ``products`` (embedded files).
    provenance
        Where the départements came from
        (:func:`pipeline.sources.inputs.read_departements`); when given, it replaces the embedded
        départements product in the list of sources.

    Returns
    -------
    dict of str to str
        Items ``TITRE``, ``DATE_ANNEXE``, ``VERSION_PIPELINE``, ``SOURCES`` (one line per
        source: attribution, edition, file and checksum), ``LICENCE`` and, with
        ``provenance``, ``SOURCE_DEPARTEMENTS``.

    Raises
    ------
    PipelineError
        If the sources registry cannot be read.
    """
    if sources is None:
        from pipeline.config import sources as read_sources

        try:
            sources = read_sources()
        except (OSError, ValueError) as exc:
            raise PipelineError(
                f"registre des sources pipeline/data/sources.json illisible ({exc}) ; "
                "réinstallez le paquet ou passez metadata= explicitement") from exc
    external = sources.get("sources", {})
    products = sources.get("products", {})
    lines = []
    press = external.get("press_release_2021")
    if isinstance(press, Mapping):
        lines.append(f"{press.get('attribution', 'communiqué')} : « {press.get('title', '')} » "
                     f"({press.get('date', ANNEX_DATE.isoformat())})")
    for key, product in sorted(products.items()):
        if not isinstance(product, Mapping) or (
                provenance and product.get("layer") == "departements"):
            continue
        lines.append(f"{product.get('attribution', key)} — édition "
                     f"{product.get('edition', 'inconnue')}, fichier {product.get('path', key)}"
                     f", sha256 {product.get('sha256', 'inconnu')}")
    meta = {
        "TITRE": "Couverture du territoire par les écoles de production (annexe du "
                 "communiqué du 23 novembre 2021)",
        "DATE_ANNEXE": ANNEX_DATE.isoformat(),
        "VERSION_PIPELINE": f"ecoles-map {__version__}",
        "SOURCES": "\n".join(lines),
        "LICENCE": " ; ".join(sorted({
            str(r["licence"]) for r in [*external.values(), *products.values()]
            if isinstance(r, Mapping) and r.get("licence")})),
    }
    if provenance:
        meta["SOURCE_DEPARTEMENTS"] = provenance.line()
    return meta


@contextlib.contextmanager
def gdal_options(options: Mapping[str, str]) -> Iterator[None]:
    """Set GDAL configuration options for the duration of the block, then restore them.

    The one way the pipeline sets GDAL options (timestamps of written GeoPackages, no
    ``.aux.xml`` sidecar when reading), so that none leaks into later reads or writes.
    """
    before = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(dict(options))
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(before)


#: First columns of a ``departements`` layer; the others follow in the order given.
_DEPARTEMENTS_FIRST: Final = ("code", "nom", *DEPARTEMENT_PLACE_COLUMNS, "statut")


def _ordered(frame: gpd.GeoDataFrame, columns: tuple[str, ...], *,
             sort_others: bool = True) -> gpd.GeoDataFrame:
    """Return ``frame`` with ``columns`` first, the others after, geometry named ``geom``.

    The other columns are sorted by name, or kept in the frame's order with
    ``sort_others=False`` (the départements' counts, then their reach, as computed).
    """
    geometry = frame.geometry.name
    known = [c for c in columns if c in frame.columns]
    others = [c for c in frame.columns if c not in known and c != geometry]
    if sort_others:
        others = sorted(others)
    out = frame[[*known, *others, geometry]].rename_geometry(GEOMETRY_COLUMN)
    if out.crs is None or not out.crs.equals(STORAGE_CRS):
        raise PipelineError(f"layer geometry must be in {STORAGE_CRS}, got {out.crs}; "
                            "pass the output of pipeline.steps.join.mark_coverage")
    return out.reset_index(drop=True)


def _styles_table(timestamp: dt.datetime, *, dated: bool,
                  communes: tuple[tuple[float, ...], str] | None = None) -> pd.DataFrame:
    """Return the rows of the ``layer_styles`` table QGIS reads default styles from.

    Each style lists only the categories and statuses the file can hold: the annex's, or a
    date's (closed schools included); ``communes`` (thresholds, distance column) adds the
    graduated style of the reach layer.
    """
    styles = {"ecoles": (ecoles_qml(dated=dated), ecoles_sld(dated=dated)),
              "departements": (departements_qml(dated=dated), departements_sld(dated=dated))}
    if communes is not None:
        thresholds, field = communes
        styles[COMMUNES_LAYER] = (communes_qml(thresholds, field=field),
                                  communes_sld(thresholds, field=field))
    rows = [{
        "f_table_catalog": "",
        "f_table_schema": "",
        "f_table_name": layer,
        "f_geometry_column": GEOMETRY_COLUMN,
        "styleName": layer,
        "styleQML": qml,
        "styleSLD": sld,
        "useAsDefault": True,
        "description": STYLE_DESCRIPTIONS[layer],
        "owner": "",
        "ui": "",
        "update_time": pd.Timestamp(timestamp),
    } for layer, (qml, sld) in styles.items()]
    return pd.DataFrame(rows)


def _dated_titles(as_of: dt.date) -> tuple[dict[str, str], dict[str, str]]:
    """Titles and descriptions of the layers of a GeoPackage dated ``as_of``."""
    day = french_date(as_of)
    titles = {"ecoles": f"Écoles de production et lauréats de l'AMI au {day}",
              "departements": f"Couverture des départements par les écoles de production au "
                              f"{day}",
              COMMUNES_LAYER: f"Accès des communes aux écoles de production au {day}"}
    descriptions = {
        "ecoles": (
            f"Un point par site au {day} : categorie ouverte (école ouverte au 23 novembre "
            "2021), ouverte_depuis_annexe, annoncee (lauréat de l'AMI pas encore ouvert) ou "
            "fermee. date_ouverture et date_fermeture sont des dates (DATE), le jour à partir "
            "duquel le site compte ; precision_ouverture et precision_fermeture disent comment "
            "elles sont connues : jour ; mois (le 1er du mois) ; annee (le 31 décembre) ; "
            "au_plus_tard (école comptée à l'annexe mais datée après : la date de l'annexe, une "
            "borne). lieu_annonce nomme la commune annoncée en 2021 quand le lauréat a ouvert "
            "ailleurs ; ami_2021_id relie le site à sa ligne de 2021."),
        "departements": (
            f"Départements (COG) et leur couverture au {day} : couvert_avant_annexe, "
            "couvert_depuis_annexe, annonce (lauréat annoncé, rien d'ouvert), non_couvert ; "
            "premiere_ouverture est la plus ancienne date d'ouverture connue (DATE), avec sa "
            "précision (precision_premiere_ouverture) ; au_plus_tard quand une école comptée à "
            "l'annexe n'a pas de date : la première a ouvert ce jour-là ou avant."),
    }
    return titles, descriptions


def _communes_description(day: dt.date | None, nb_sites: int) -> str:
    """Describe the ``communes_acces`` layer of the annex (None) or of ``day``."""
    which = (f"les {nb_sites} sites de la carte de l'annexe (écoles existantes et lauréats de "
             "l'AMI)" if day is None else
             f"les {nb_sites} sites ouverts au {french_date(day)} (ni les écoles fermées, ni "
             "les lauréats pas encore ouverts)")
    return (
        "Un point par commune (sa mairie, COG 2025) : population et jeunes_0_19 (INSEE, RP "
        "2021, jeunes de 0 à 19 ans ; NULL à Mayotte, sans données par âge), distance_km à vol "
        "d'oiseau jusqu'au site le plus proche du même territoire (métropole, Corse, chaque "
        "département d'outre-mer à part ; NULL si le territoire n'en a aucun), ecole_proche "
        "(son id : ecoles.id) ; distance_route_estimee_km (vol d'oiseau × facteur de détour) "
        "quand une estimation routière est demandée, methode_distance le dit. Sites "
        f"comptés : {which}. Précautions : pas de distance par la route ; 0 à 19 ans et non 15 "
        "à 18 ; distance depuis la mairie, pas depuis les adresses ; un bassin potentiel, pas "
        "une capacité d'accueil.")


def _has_nullable(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` holds a nullable (extension) number or boolean column with a NA."""
    for column in frame.columns:
        values = frame[column]
        if (isinstance(values.dtype, pd.api.extensions.ExtensionDtype)
                and (pd.api.types.is_numeric_dtype(values)
                     or pd.api.types.is_bool_dtype(values))
                and bool(values.isna().any())):
            return True
    return False


def _has_dates(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` holds a datetime column (written as GeoPackage DATE)."""
    return any(pd.api.types.is_datetime64_any_dtype(frame[c]) for c in frame.columns
               if c != getattr(frame, "_geometry_column_name", None))


def _write_with_dates(frame: pd.DataFrame, path: Path, *, layer: str, promote_to_multi: bool,
                      **options: Any) -> None:
    """Write ``frame`` as pyogrio would, but its datetime columns as DATE (day precision).

    ``pyogrio.write_dataframe`` writes pandas datetimes as DATETIME (pandas has no day
    unit); pyogrio's public array writer, :func:`pyogrio.raw.write`, makes a DATE field of a
    ``datetime64[D]`` array, stored as ``YYYY-MM-DD`` text, the GeoPackage encoding that SQL
    compares and sorts correctly. Columns with missing values go as numpy values plus a
    mask, through pandas' public conversions.
    """
    from pyogrio.raw import write as raw_write

    geometry = None
    geometry_type = None
    crs = None
    fields = [str(c) for c in frame.columns]
    if isinstance(frame, gpd.GeoDataFrame):
        name = frame.geometry.name
        fields = [str(c) for c in frame.columns if c != name]
        geometry = shapely.to_wkb(frame.geometry.values)
        kinds = sorted(set(frame.geometry.geom_type.dropna()))
        geometry_type = kinds[0] if len(kinds) == 1 else "Unknown"
        if promote_to_multi and not geometry_type.startswith("Multi"):
            geometry_type = f"Multi{geometry_type}"
        epsg = frame.crs.to_epsg() if frame.crs else None
        crs = f"EPSG:{epsg}" if epsg else None
    data: list[Any] = []
    masks: list[Any] = []
    for column in fields:
        values = frame[column]
        missing = values.isna().to_numpy()
        if pd.api.types.is_datetime64_any_dtype(values):
            data.append(values.to_numpy().astype("datetime64[D]"))
            masks.append(None)
        elif isinstance(values.dtype, pd.api.extensions.ExtensionDtype) and (
                pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values)):
            # Nullable booleans and numbers: their numpy type, the NA cells masked.
            kind: Any = ("bool" if pd.api.types.is_bool_dtype(values)
                         else getattr(values.dtype, "numpy_dtype", "float64"))
            data.append(values.to_numpy(dtype=kind, na_value=False if kind == "bool" else 0))
            masks.append(missing)
        elif isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
            data.append(values.astype(object).where(~missing, None).to_numpy())
            masks.append(missing)
        else:
            data.append(values.to_numpy())
            masks.append(None)
    raw_write(str(path), geometry, data, fields, field_mask=masks, layer=layer, driver="GPKG",
              geometry_type=geometry_type, crs=crs, promote_to_multi=promote_to_multi,
              **options)


def write_coverage_gpkg(sites: gpd.GeoDataFrame, departements: gpd.GeoDataFrame,
                        path: str | os.PathLike[str], *,
                        metadata: Mapping[str, str] | None = None,
                        timestamp: dt.datetime | None = None,
                        as_of: dt.date | None = None,
                        history: pd.DataFrame | None = None,
                        communes: gpd.GeoDataFrame | None = None,
                        thresholds_km: tuple[float, ...] = (30.0, 45.0),
                        distance_column: str = "distance_km",
                        reach_history: pd.DataFrame | None = None) -> Path:
    """Write the coverage GeoPackage (layers ``ecoles`` and ``departements``) atomically.

    Parameters
    ----------
    sites
        Sites from :func:`pipeline.steps.join.mark_coverage` (points, EPSG:4326).
    departements
        Départements from :func:`pipeline.steps.join.mark_coverage` (polygons, EPSG:4326).
    path
        Destination ``.gpkg``; replaced only once the new file is complete.
    metadata
        Dataset metadata items (default :func:`coverage_metadata` of the sources registry).
    timestamp
        Date written in ``gpkg_contents.last_change`` and ``layer_styles.update_time``
        (default: midnight UTC of the annex date), so that the same inputs give the same
        bytes.
    as_of
        Date the layers describe, named in their titles (default: the annex, the titles of
        :data:`LAYER_TITLES`). Datetime columns of either layer (``date_ouverture``,
        ``date_fermeture``, ``premiere_ouverture``) are written as GeoPackage DATE.
    history
        Coverage per département per date (:func:`pipeline.steps.history.coverage_history`),
        written as the attribute table ``couverture_historique`` (no geometry, data_type
        ``attributes`` in ``gpkg_contents``), its ``date`` and ``premiere_ouverture`` as DATE.
    communes
        The reach layer (:func:`pipeline.steps.reach.communes_layer`), written as
        ``communes_acces`` (points, R-tree, graduated default style); None writes none.
    thresholds_km, distance_column
        Class bounds and column of the reach layer's style.
    reach_history
        Shares within reach per date (:func:`pipeline.steps.reach.reach_over_time`),
        written as the attribute table ``acces_historique``, ``date`` as DATE.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    when = timestamp or dt.datetime.combine(ANNEX_DATE, dt.time(), tzinfo=dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    when = when.astimezone(dt.UTC)
    meta = dict(coverage_metadata() if metadata is None else metadata)
    layers = {
        "ecoles": _ordered(sites, ECOLES_COLUMNS),
        "departements": _ordered(departements, _DEPARTEMENTS_FIRST, sort_others=False),
    }
    layers["departements"]["code"] = layers["departements"]["code"].astype(str)
    for column in layers["departements"].columns:
        if str(column).startswith("nb_"):
            layers["departements"][column] = layers["departements"][column].astype("int64")
    layers["ecoles"]["existante_2021"] = layers["ecoles"]["existante_2021"].astype(bool)
    dated = as_of is not None and as_of != ANNEX_DATE
    titles, descriptions = dict(LAYER_TITLES), dict(LAYER_DESCRIPTIONS)
    if dated:
        assert as_of is not None
        titles, descriptions = _dated_titles(as_of)
    if "nom_region" in layers["ecoles"].columns:
        descriptions["ecoles"] += PLACES_DESCRIPTION
    if communes is not None:
        layers[COMMUNES_LAYER] = _ordered(communes, COMMUNES_COLUMNS, sort_others=False)
        existing = any(str(c).endswith("_existantes") for c in departements.columns)
        descriptions["departements"] += REACH_DEPARTEMENTS_DESCRIPTION.format(
            seuils=", ".join(f"{t:g}" for t in thresholds_km),
            existantes=REACH_EXISTING if existing else "")
        reaching = int(sites["ouverte"].astype(bool).sum()) if dated else len(sites)
        titles.setdefault(COMMUNES_LAYER, "Accès des communes aux écoles de production "
                                          "(23 novembre 2021)")
        descriptions[COMMUNES_LAYER] = _communes_description(as_of if dated else None,
                                                             reaching)
    current_date = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with atomic_path(path) as tmp, tempfile.TemporaryDirectory(dir=tmp.parent,
                                                               prefix=".gpkg-") as work_dir:
        # GDAL wants a .gpkg name: write in a private folder, then move over the temp file.
        work = Path(work_dir) / "couverture.gpkg"
        with gdal_options({"OGR_CURRENT_DATE": current_date}):
            for index, (name, frame) in enumerate(layers.items()):
                options: dict[str, Any] = {
                    "dataset_metadata": meta if index == 0 else None,
                    # GeoPackage 1.2: read without warnings by GDAL ≥ 2.2 and every QGIS 3.
                    "dataset_options": {"VERSION": "1.2"} if index == 0 else None,
                    "layer_options": {
                        "IDENTIFIER": titles[name],
                        "DESCRIPTION": descriptions[name],
                        "FID": FID_COLUMN,
                        "GEOMETRY_NAME": GEOMETRY_COLUMN,
                        "SPATIAL_INDEX": "YES",
                    }}
                if _has_dates(frame):
                    _write_with_dates(frame, work, layer=name,
                                      promote_to_multi=(name == "departements"), **options)
                else:
                    # Nullable counts and shares (NA in Mayotte) go through the masked
                    # writer; the others as pyogrio writes them.
                    writer = (_write_with_dates if _has_nullable(frame) else
                              functools.partial(pyogrio.write_dataframe, driver="GPKG"))
                    writer(frame, work, layer=name,
                           promote_to_multi=(name == "departements"), **options)
            if history is not None:
                table = history.copy()
                for column in ("date", "premiere_ouverture"):
                    table[column] = pd.to_datetime(table[column]).astype("datetime64[s]")
                _write_with_dates(table, work, layer=HISTORY_TABLE, promote_to_multi=False,
                                  layer_options={"IDENTIFIER": HISTORY_TITLE,
                                                 "DESCRIPTION": HISTORY_DESCRIPTION,
                                                 "FID": FID_COLUMN})
            if reach_history is not None:
                table = reach_history.copy()
                table["date"] = pd.to_datetime(table["date"]).astype("datetime64[s]")
                _write_with_dates(table, work, layer=REACH_HISTORY_TABLE, promote_to_multi=False,
                                  layer_options={"IDENTIFIER": REACH_HISTORY_TITLE,
                                                 "DESCRIPTION": REACH_HISTORY_DESCRIPTION,
                                                 "FID": FID_COLUMN})
            styled = None if communes is None else (tuple(thresholds_km), distance_column)
            pyogrio.write_dataframe(
                _styles_table(when, dated=dated, communes=styled), work, layer="layer_styles",
                driver="GPKG",
                layer_options={"FID": "id", "IDENTIFIER": "layer_styles",
                               "DESCRIPTION": "Styles QGIS par défaut des couches"})
        os.replace(work, tmp)
    return path


#: GDAL timestamp written into GeoPackages of départements, so that the same input gives the
#: same bytes.
FIXED_GPKG_DATE = "2021-11-23T00:00:00Z"


def write_departements(departements: gpd.GeoDataFrame, target: str | os.PathLike[str], *,
                       provenance: Provenance | None = None) -> None:
    """Write départements to a GeoPackage (layer ``departements``), atomically.

    The bytes are deterministic: GDAL's timestamps are pinned (``OGR_CURRENT_DATE``); the
    provenance goes into the layer description and the dataset metadata.

    Parameters
    ----------
    departements
        Départements in the pipeline schema.
    target
        Destination ``.gpkg``; replaced only once complete.
    provenance
        Where they came from.
    """
    credit = provenance.source if provenance is not None else ""
    metadata = {"SOURCE_DEPARTEMENTS": provenance.line()} if provenance is not None else None
    with gdal_options({"OGR_CURRENT_DATE": FIXED_GPKG_DATE}), atomic_path(target) as tmp, \
            tempfile.TemporaryDirectory(dir=tmp.parent, prefix=".gpkg-") as work_dir:
        # GDAL wants a .gpkg name: write in a private folder, then move over the temp file.
        work = Path(work_dir) / "departements.gpkg"
        pyogrio.write_dataframe(
            departements, work, layer="departements", driver="GPKG",
            dataset_metadata=metadata,
            layer_options={"IDENTIFIER": "Départements",
                           "DESCRIPTION": f"Départements de France. Source : {credit}"})
        os.replace(work, tmp)


@dataclass(frozen=True, eq=False)
class CoverageFile:
    """A coverage GeoPackage read back: its two layers, metadata, provenance and date.

    Attributes
    ----------
    sites, departements
        The layers ``ecoles`` and ``departements``, in EPSG:4326.
    metadata
        The dataset metadata.
    provenance
        Where the départements came from (None in a file that does not say).
    day
        The date it describes; None for the annex of 23 November 2021.
    """

    sites: gpd.GeoDataFrame
    departements: gpd.GeoDataFrame
    metadata: dict[str, str]
    provenance: Provenance | None
    day: dt.date | None


#: What ``render`` needs in each layer, beyond the geometry, by kind of file.
_NEEDED: Final = {
    "ecoles": ("id", "categorie", "etiquette", "departement"),
    "departements": ("code", "nom", "statut"),
}
_NEEDED_ANNEX: Final = ()
_NEEDED_DATED: Final = ("ouverte", "ouverte_annexe", "statut_site")
_REBUILD: Final = ("refaites-le avec `ecoles-map join` (ou `make map`), ou passez un GeoPackage "
                   "écrit par `ecoles-map join`, `build` ou `history`")


def read_coverage(path: str | os.PathLike[str]) -> CoverageFile:
    """Read a coverage GeoPackage back, refusing any file ``render`` cannot draw.

    Parameters
    ----------
    path
        ``data/processed/couverture.gpkg``, a dated ``couverture-<date>.gpkg`` or
        ``historique.gpkg`` (the coverage of its last date).

    Returns
    -------
    CoverageFile
        Layers, metadata, provenance and date.

    Raises
    ------
    RenderError
        If the file is missing, is not a GeoPackage, or lacks a layer, a column, or holds a
        category or status the map has no style for; the message says what to pass.
    """
    import pyogrio

    from pipeline.schema import (
        ANNEX_CATEGORIES,
        ANNEX_STATUSES,
        DATED_CATEGORIES,
        DATED_STATUSES,
        missing_columns,
    )

    path = Path(path)
    if not path.is_file():
        raise RenderError(f"{path} : fichier introuvable ; lancez d'abord `ecoles-map join` (ou "
                          "`make map`) pour produire le GeoPackage de couverture")
    try:
        with path.open("rb") as f:
            magic = f.read(16)
    except OSError as exc:
        raise RenderError(f"{path} : illisible ({exc.strerror})") from exc
    if magic != b"SQLite format 3\x00":
        raise RenderError(f"{path} : ce n'est pas un GeoPackage ; `render` dessine le GeoPackage "
                          "de couverture (data/processed/couverture.gpkg), pas le registre ni "
                          "une carte : " + _REBUILD)
    # Reading the dataset metadata would otherwise leave a "couverture.gpkg.aux.xml" beside
    # the file (GDAL's persistent auxiliary metadata): the GeoPackage already holds it all.
    with gdal_options({"GDAL_PAM_ENABLED": "NO"}):
        try:
            layers = {str(name) for name, _ in pyogrio.list_layers(path)}
            absent = [name for name in _NEEDED if name not in layers]
            if absent:
                raise RenderError(f"{path} : couche(s) {', '.join(absent)} absente(s) ; "
                                  + _REBUILD)
            metadata = dict(pyogrio.read_info(path, layer="ecoles").get("dataset_metadata")
                            or {})
            frames = {name: pyogrio.read_dataframe(path, layer=name) for name in _NEEDED}
        except RenderError:
            raise
        except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError...
            raise RenderError(f"{path} : illisible ({exc}) ; " + _REBUILD) from exc
    day = None
    if metadata.get("DATE_COUVERTURE"):
        try:
            day = dt.date.fromisoformat(metadata["DATE_COUVERTURE"])
        except ValueError as exc:
            raise RenderError(f"{path} : DATE_COUVERTURE {metadata['DATE_COUVERTURE']!r} n'est "
                              "pas une date ; " + _REBUILD) from exc
    needed = {"ecoles": (*_NEEDED["ecoles"], *(_NEEDED_ANNEX if day is None else _NEEDED_DATED)),
              "departements": _NEEDED["departements"]}
    for name, frame in frames.items():
        lacking = missing_columns(frame.columns, needed[name])
        if lacking:
            raise RenderError(f"{path} : la couche {name} n'a pas la/les colonne(s) "
                              f"{', '.join(lacking)} ; " + _REBUILD)
        if frame.crs is None:
            raise RenderError(f"{path} : la couche {name} n'a pas de système de coordonnées ; "
                              + _REBUILD)
        frames[name] = frame.to_crs(STORAGE_CRS)
    sites, departements = frames["ecoles"], frames["departements"]
    categories, statuses = ((ANNEX_CATEGORIES, ANNEX_STATUSES) if day is None
                            else (DATED_CATEGORIES, DATED_STATUSES))
    for values, allowed, what in ((sites["categorie"], categories, "catégorie"),
                                  (departements["statut"], statuses, "statut")):
        unknown = sorted({str(v) for v in values.dropna()} - set(allowed))
        if unknown:
            raise RenderError(f"{path} : {what} inconnue(s) {', '.join(unknown)} (attendu : "
                              f"{', '.join(allowed)}) ; " + _REBUILD)
    if not sites.geometry.geom_type.isin(["Point"]).all():
        raise RenderError(f"{path} : la couche ecoles doit contenir des points ; " + _REBUILD)
    departements["code"] = departements["code"].astype(str)
    provenance = Provenance.from_line(metadata.get("SOURCE_DEPARTEMENTS", ""))
    return CoverageFile(sites, departements, metadata, provenance, day)
