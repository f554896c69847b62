"""Basemaps: which tiles or raster a map is drawn on, and where their cache lives.

:func:`basemap_source` turns the ``--basemap`` value into a :class:`Basemap` that the
drawing code uses as it is: Plan IGN tiles (the Géoplateforme, or a mirror named by
``ECOLES_MAP_PLAN_IGN_URL``), cached in ``tiles/`` of the cache folder, or a local GeoTIFF.
The tiles themselves are fetched by contextily while the map is drawn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from pipeline.basemap import Basemap
from pipeline.errors import RenderError
from pipeline.sources.http import PLAN_IGN_URL_ENV, base_url_from_env, rebase, resolve_cache_dir

PLAN_IGN: Final = "plan-ign"
PLAN_IGN_CREDIT: Final = "© IGN – Plan IGN"


def basemap_source(value: str, *, cache_dir: str | os.PathLike[str] | None = None) -> Basemap:
    """Resolve ``--basemap``: ``plan-ign`` or the path of a GeoTIFF.

    Parameters
    ----------
    value
        ``"plan-ign"`` or a file path.
    cache_dir
        Cache folder (``--cache-dir``; else ``$ECOLES_MAP_CACHE``, else the user cache).

    Returns
    -------
    Basemap
        For :func:`pipeline.outputs.maps.render.draw_map`.

    Raises
    ------
    RenderError
        If ``value`` is neither, or the tile cache cannot be made.
    """
    if value == PLAN_IGN:
        import xyzservices.providers as xyz

        cache = resolve_cache_dir(cache_dir) / "tiles"
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RenderError(
                f"le dossier de cache des tuiles {cache} est inutilisable ({exc.strerror}) ; "
                "choisissez un autre dossier de cache avec --cache-dir ou la variable "
                "ECOLES_MAP_CACHE. Aucune carte n'a été écrite."
            ) from exc
        provider = xyz.GeoportailFrance.plan
        mirror = base_url_from_env(PLAN_IGN_URL_ENV)
        if mirror is not None:
            provider = provider.copy()
            provider["url"] = rebase(provider["url"], mirror)
        return Basemap(provider, cache, PLAN_IGN_CREDIT, tiles=True)
    path = Path(value)
    if not path.is_file():
        raise RenderError(
            f"fond de carte {value!r} : ni {PLAN_IGN!r} ni un fichier GeoTIFF existant ; "
            f"donnez le chemin d'un .tif ou utilisez --basemap {PLAN_IGN}. Aucune carte n'a "
            "été écrite.")
    return Basemap(path, None, f"Fond de carte : {path.name}", tiles=False)
