"""Point labels that overlap neither each other nor the markers: a greedy, deterministic placer.

Each label is tried at a few positions around its point (right, upper right, lower right,
left, ... as cartographers prefer), in display coordinates, and takes the first one that is
free; failing that, it moves further away in 16 directions and gets a leader line, which
crosses no other marker, label or leader where any free position allows. Boxes already
taken are kept in a uniform grid, so each test costs a few comparisons and the whole
placement is O(n·k) for n labels and k candidate positions.

Manual nudges for the last stubborn labels (``data/raw/etiquettes.csv``, read by
:mod:`pipeline.sources.labelfile`) come in as ``fixed`` boxes: a label placed by hand is not
moved by the placer, and the automatic labels avoid it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


#: Box as (x0, y0, x1, y1) in display coordinates (pixels, origin bottom left).
Rect = tuple[float, float, float, float]

#: Preferred positions around a point, as (horizontal, vertical) side: 1 right/up, -1
#: left/down, 0 centred. Right first, then upper right, lower right, left... (Imhof).
_AROUND: tuple[tuple[int, int], ...] = (
    (1, 0), (1, 1), (1, -1), (-1, 0), (-1, 1), (-1, -1), (0, 1), (0, -1),
)
#: Distances (in label heights beyond the marker) and number of directions of the displaced
#: positions, which get a leader line.
_DISPLACED_STEPS: tuple[float, ...] = (1.5, 2.5, 4.0, 6.0, 9.0)
_DIRECTIONS = 16
#: Further greedy passes, each placing first the labels whose leader had to cross something.
_RETRIES = 3


@dataclass(frozen=True)
class Placement:
    """Where one label goes.

    Parameters
    ----------
    box
        The label's box (x0, y0, x1, y1) in display coordinates.
    leader
        Whether the label is far enough from its point to need a leader line.
    """

    box: Rect
    leader: bool


class _Grid:
    """Uniform grid of boxes answering "does this box touch any stored box?" quickly."""

    def __init__(self, cell: float) -> None:
        self.cell = cell
        self.cells: dict[tuple[int, int], list[int]] = {}
        self.boxes: list[Rect] = []

    def _keys(self, box: Rect) -> list[tuple[int, int]]:
        c = self.cell
        i0, i1 = math.floor(box[0] / c), math.floor(box[2] / c)
        j0, j1 = math.floor(box[1] / c), math.floor(box[3] / c)
        return [(i, j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]

    def add(self, box: Rect) -> None:
        index = len(self.boxes)
        self.boxes.append(box)
        for key in self._keys(box):
            self.cells.setdefault(key, []).append(index)

    def near(self, box: Rect) -> set[int]:
        """Return the indices of the stored boxes in the cells that ``box`` touches."""
        found: set[int] = set()
        for key in self._keys(box):
            found.update(self.cells.get(key, ()))
        return found

    def copy(self) -> _Grid:
        """Return an independent copy (the stored boxes are immutable tuples)."""
        other = _Grid(self.cell)
        other.cells = {key: list(indices) for key, indices in self.cells.items()}
        other.boxes = list(self.boxes)
        return other

    def hits(self, box: Rect, ignore: int = -1) -> bool:
        seen: set[int] = set()
        for key in self._keys(box):
            for index in self.cells.get(key, ()):
                if index == ignore or index in seen:
                    continue
                seen.add(index)
                other = self.boxes[index]
                if (box[0] < other[2] and other[0] < box[2]
                        and box[1] < other[3] and other[1] < box[3]):
                    return True
        return False


Segment = tuple[float, float, float, float]


def _segment_hits_box(seg: Segment, box: Rect) -> bool:
    """Whether the segment (x0, y0, x1, y1) meets the inside of ``box`` (Liang–Barsky)."""
    x0, y0, x1, y1 = seg
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]),
                 (dy, box[3] - y0)):
        if p == 0:
            if q <= 0:
                return False
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 >= t1:
            return False
    return True


def _segments_cross(a: Segment, b: Segment) -> bool:
    """Whether two segments cross (touching ends do not count)."""
    def side(px: float, py: float, qx: float, qy: float, rx: float, ry: float) -> float:
        return (qx - px) * (ry - py) - (qy - py) * (rx - px)

    d1 = side(b[0], b[1], b[2], b[3], a[0], a[1])
    d2 = side(b[0], b[1], b[2], b[3], a[2], a[3])
    d3 = side(a[0], a[1], a[2], a[3], b[0], b[1])
    d4 = side(a[0], a[1], a[2], a[3], b[2], b[3])
    return d1 * d2 < 0 and d3 * d4 < 0


def _leader(box: Rect, x: float, y: float) -> Segment:
    """Leader line from the point (x, y) to the nearest point of its label's box."""
    nx, ny = _nearest(box, x, y)
    return x, y, nx, ny


def _leader_is_clear(seg: Segment, grid: _Grid, own: set[int], radius: float,
                     leaders: Sequence[Segment]) -> bool:
    """Whether a leader crosses no stored box (but the ``own`` ones) nor another leader.

    ``own`` holds the grid indices of its marker and of the markers overlapping it, which a
    leader out of a tight cluster cannot avoid. The leader starts at the edge of its own
    marker: its first ``radius`` is not tested.
    """
    x0, y0, x1, y1 = seg
    length = math.hypot(x1 - x0, y1 - y0)
    if length <= radius:
        return True
    t = radius / length
    seg = (x0 + t * (x1 - x0), y0 + t * (y1 - y0), x1, y1)
    bounds = (min(seg[0], x1), min(seg[1], y1), max(seg[0], x1), max(seg[1], y1))
    for index in grid.near(bounds):
        if index not in own and _segment_hits_box(seg, grid.boxes[index]):
            return False
    return not any(_segments_cross(seg, other) for other in leaders)


def _inside(box: Rect, frame: Rect) -> bool:
    return (box[0] >= frame[0] and box[1] >= frame[1]
            and box[2] <= frame[2] and box[3] <= frame[3])


def _candidates(x: float, y: float, w: float, h: float,
                gap: float) -> Iterator[tuple[Rect, bool]]:
    """Boxes to try for a label of size (w, h) at (x, y), best first, with their leader flag.

    Lazy: most labels take one of the first positions, so the rest are never computed.
    """
    diag = gap * 0.7
    for sx, sy in _AROUND:
        if sx == 0:
            x0 = x - w / 2
        else:
            x0 = x + (diag if sy else gap) if sx > 0 else x - (diag if sy else gap) - w
        if sy == 0:
            y0 = y - h / 2
        else:
            y0 = y + (diag if sx else gap) if sy > 0 else y - (diag if sx else gap) - h
        yield (x0, y0, x0 + w, y0 + h), False
    for step in _DISPLACED_STEPS:
        d = gap + step * h
        for k in range(_DIRECTIONS):
            # Start towards the right and turn both ways alternately, so that nearby
            # right-hand positions (the reading direction) are tried first.
            turn = (k + 1) // 2 * (1 if k % 2 else -1)
            angle = 2 * math.pi * turn / _DIRECTIONS
            ux, uy = math.cos(angle), math.sin(angle)
            cx = x + ux * (d + w / 2)
            cy = y + uy * (d + h / 2)
            yield (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), True


def place_labels(
    points: np.ndarray,
    sizes: np.ndarray,
    frames: Sequence[Rect],
    *,
    marker_radius: float,
    gap: float,
    obstacles: Sequence[Rect] = (),
    fixed: Mapping[int, Rect] | None = None,
) -> list[Placement | None]:
    """Place one label per point, greedily, so that no two labels and no label and marker meet.

    A label moved away from its point gets a leader line, which crosses no other marker,
    label or leader line, unless every free position needs one that does (a tight cluster).

    Parameters
    ----------
    points
        Array (n, 2) of the labelled points in display coordinates.
    sizes
        Array (n, 2) of the label widths and heights in display units (measured once).
    frames
        For each point, the box (x0, y0, x1, y1) its label must stay inside (its map frame).
    marker_radius
        Half the marker width in display units; markers are obstacles for every label.
    gap
        Distance between a marker's centre and its label when placed next to it.
    obstacles
        Further boxes no label may cover (markers of unlabelled points, scale bar...).
    fixed
        Labels placed by hand: index → box. They are kept as given and avoided by the others.

    Returns
    -------
    list of Placement or None
        One entry per point, in the input order; None where no free position exists (the
        caller warns and suggests a manual offset).
    """
    n = len(points)
    fixed = dict(fixed or {})
    cell = float(max(np.median(sizes[:, 0]) if n else 1.0, 4 * marker_radius, 1.0))
    grid = _Grid(cell)
    r = marker_radius
    for x, y in points:
        grid.add((x - r, y - r, x + r, y + r))
    for box in obstacles:
        grid.add(box)
    placements: list[Placement | None] = [None] * n
    leaders: list[Segment] = []
    for index, box in sorted(fixed.items()):
        x, y = points[index]
        far = math.dist((x, y), _nearest(box, x, y)) > 2 * r
        placements[index] = Placement(box, far)
        grid.add(box)
        if far:
            leaders.append(_leader(box, float(x), float(y)))
    if not n:
        return placements

    # Most crowded points first: they have the fewest free positions.
    reach = 4 * float(np.median(sizes[:, 0]))
    dx = points[:, None, 0] - points[None, :, 0]
    dy = points[:, None, 1] - points[None, :, 1]
    crowd = ((dx * dx + dy * dy) < reach * reach).sum(axis=1)
    # Markers are the first n boxes of the grid; these overlap marker i.
    touching = (dx * dx + dy * dy) < (2 * r) ** 2
    order = [i for i in sorted(range(n), key=lambda i: (-int(crowd[i]), i)) if i not in fixed]

    def greedy(order: list[int]) -> tuple[list[Placement | None], list[int]]:
        """Place in this order; also return the labels whose leader crosses something."""
        taken = grid.copy()
        lines = list(leaders)
        result = list(placements)
        crossing: list[int] = []
        for i in order:
            x, y = (float(v) for v in points[i])
            own = set(np.flatnonzero(touching[i]).tolist())
            chosen: Placement | None = None
            fallback: Placement | None = None  # a free box, but its leader crosses something
            for box, leader in _candidates(x, y, float(sizes[i, 0]), float(sizes[i, 1]), gap):
                if not _inside(box, frames[i]) or taken.hits(box):
                    continue
                if any(_segment_hits_box(seg, box) for seg in lines):
                    continue  # the label would sit on another label's leader line
                if leader and not _leader_is_clear(_leader(box, x, y), taken, own, r, lines):
                    fallback = fallback or Placement(box, leader)
                    continue
                chosen = Placement(box, leader)
                break
            if chosen is None and fallback is not None:
                # In a tight cluster a leader may have to cross a neighbour: better than
                # no label.
                chosen = fallback
                crossing.append(i)
            if chosen is not None:
                result[i] = chosen
                taken.add(chosen.box)
                if chosen.leader:
                    lines.append(_leader(chosen.box, x, y))
        return result, crossing

    def cost(attempt: tuple[list[Placement | None], list[int]]) -> tuple[int, int]:
        return sum(p is None for p in attempt[0]), len(attempt[1])

    best = greedy(order)
    # Labels whose leader had to cross something go first next time, while that helps.
    for _ in range(_RETRIES):
        if not best[1]:
            break
        first = best[1]
        attempt = greedy(first + [i for i in order if i not in first])
        if cost(attempt) >= cost(best):
            break
        best = attempt
    return best[0]


def _nearest(box: Rect, x: float, y: float) -> tuple[float, float]:
    """Point of ``box`` nearest to (x, y)."""
    return min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3])


def leader_anchor(box: Rect, x: float, y: float) -> tuple[float, float]:
    """Relative position (0–1 on each axis) on ``box`` where a leader line to (x, y) starts."""
    nx, ny = _nearest(box, x, y)
    w = box[2] - box[0] or 1.0
    h = box[3] - box[1] or 1.0
    return (nx - box[0]) / w, (ny - box[1]) / h
