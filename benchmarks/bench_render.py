"""Time the render per preset (plot, PNG, SVG), file sizes, and PNG ∥ SVG with fork.

Run: .venv/bin/python benchmarks/bench_render.py [--repeat N]
Uses the real registry and the embedded départements (pipeline.run.prepare, snapshot).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

t_import = time.perf_counter()
from pipeline.outputs.maps.layout import PRESETS  # noqa: E402
from pipeline.outputs.maps.render import plot_coverage  # noqa: E402
from pipeline.outputs.maps.save import save_map  # noqa: E402
from pipeline.run import prepare, snapshot  # noqa: E402

t_import = time.perf_counter() - t_import


def best(samples: list[float]) -> str:
    return f"{min(samples):.3f} (median {statistics.median(samples):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    snap = snapshot(prepare("data/raw/ecoles.csv"), reach=None)
    sites, departements = snap.sites, snap.departements
    print(f"imports {t_import:.3f} s; {len(sites)} sites, {len(departements)} départements")
    print("preset  plot_s  png_s  svg_s  png_bytes  svg_bytes  fork_png+svg_s")
    with tempfile.TemporaryDirectory() as tmp:
        for name in PRESETS:
            plot, png, svg, forked = [], [], [], []
            png_path, svg_path = Path(tmp, f"{name}.png"), Path(tmp, f"{name}.svg")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                fig = plot_coverage(sites, departements, preset=name)
                t1 = time.perf_counter()
                save_map(fig, png_path, None)
                t2 = time.perf_counter()
                save_map(fig, None, svg_path)
                t3 = time.perf_counter()
                plot.append(t1 - t0)
                png.append(t2 - t1)
                svg.append(t3 - t2)
                # The same Figure saved as SVG in a forked child while the parent writes PNG.
                t4 = time.perf_counter()
                pid = os.fork()
                if pid == 0:
                    save_map(fig, None, svg_path)
                    os._exit(0)
                save_map(fig, png_path, None)
                os.waitpid(pid, 0)
                forked.append(time.perf_counter() - t4)
            print(f"{name:7} {best(plot)} {best(png)} {best(svg)} "
                  f"{png_path.stat().st_size:9d} {svg_path.stat().st_size:9d} {best(forked)}")


if __name__ == "__main__":
    main()
