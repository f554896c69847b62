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
        raise BoundaryError(f"{path}: no such file; pass 'embedded', 'ign' or the path of a "
                            "département layer (GeoPackage, shapefile, GeoJSON)")
    try:
        return pyogrio.read_dataframe(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.FeatureError, pyogrio.errors.GeometryError,
            UnicodeDecodeError,
            shapely.errors.GEOSException) as exc:
        # A damaged file fails in GDAL, or later while decoding its text or geometries.
        raise BoundaryError(f"{path}: cannot read the file as a vector layer ({exc}); "
                            "download it again or use the embedded boundaries") from exc
