"""Vector files read with pyogrio, their failures turned into clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import BoundaryError

if TYPE_CHECKING:
    import geopandas as gpd


def read_vector(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file with pyogrio, turning its failures into a BoundaryError."""
    import pyogrio
    import shapely

    if not path.is_file():
        raise BoundaryError(f"{path}: fichier introuvable ; passez 'embedded', 'ign' ou le chemin "
                            "d'une couche de départements (GeoPackage, shapefile, GeoJSON)")
    try:
        return pyogrio.read_dataframe(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.FeatureError, pyogrio.errors.GeometryError,
            UnicodeDecodeError,
            shapely.errors.GEOSException) as exc:
        # A damaged file fails in GDAL, or later while decoding its text or geometries.
        raise BoundaryError(f"{path}: impossible de lire le fichier comme une couche vecteur "
                            f"({exc}) ; téléchargez-le à nouveau ou utilisez les limites "
                            "intégrées (--boundaries embedded)") from exc
