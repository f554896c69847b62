"""Command-line interface of the écoles de production coverage pipeline.

Thin by design: each command parses options, calls the library in :mod:`pipeline`, and
reports. Heavy imports (pandas, geopandas, matplotlib) happen inside the commands, so that
``ecoles-map --help`` answers at once.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from pipeline import __version__
from pipeline.config import DEFAULT_REGISTRY, PROCESSED_DIR
from pipeline.errors import PipelineError

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("ecoles_map")

# --- Shared options (defined once, used by several commands) ------------------------------
registry_arg = click.argument(
    "registry", required=False, default=str(DEFAULT_REGISTRY),
    type=click.Path(dir_okay=False, path_type=Path),
)


def handle_errors(func: F) -> F:
    """Turn the library's domain exceptions into click errors (exit status 1)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PipelineError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def echo_err(message: str) -> None:
    """Print a message for people on stderr, unless --quiet was given."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_root().meta.get("quiet"):
        return
    click.echo(message, err=True)


# --- The group ----------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More detail on stderr (repeat for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.version_option(__version__, "--version", prog_name="ecoles-map")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Build the coverage map of France's écoles de production (annex of 23 Nov 2021).

    Steps: ingest the registry, geocode its communes, join them with IGN départements,
    render the map. `build` runs them all.
    """
    ctx.meta["quiet"] = quiet
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[
        min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


@main.command()
@registry_arg
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=str(PROCESSED_DIR / "registre.csv"), show_default=True,
              help="Where to write the validated, normalised copy of the registry.")
@handle_errors
def ingest(registry: Path, output: Path) -> None:
    """Validate the registry REGISTRY and write a clean, typed copy.

    Every problem (file, line, column, value) is listed in one run; nothing is written when
    any row is invalid.
    """
    from pipeline.io import write_csv
    from pipeline.report import reconcile
    from pipeline.workflow import load_registry

    sites = load_registry(registry)
    write_csv(sites, output)
    echo_err(reconcile(sites).text())
    echo_err(f"{len(sites)} sites validated → {output}")


# [geocode command]

# [boundaries command]

# [join command]

# [render command]

# [build command]
