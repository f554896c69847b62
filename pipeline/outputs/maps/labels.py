"""Point labels that overlap neither each other nor the markers: a greedy, deterministic placer.

Each label is tried at a few positions around its point (right, upper right, lower right,
left, ... as cartographers prefer), in display coordinates, and takes the first one that is
free and nearer to its own marker than to any other, so that it cannot be read as another
site's; failing that, it moves further away in 16 directions and gets a leader line, which
crosses no other marker, and no label or leader where any free position allows. Boxes already
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
#: Candidates tried after a free box nearer to another marker, for one nearer its own.
_AMBIGUOUS_PATIENCE = len(_DISPLACED_STEPS) * _DIRECTIONS
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


def _candidates(x: float, y: float, w: float, h: float, gap: float,
                unit: float | None = None) -> Iterator[tuple[Rect, bool]]:
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
        d = gap + step * (h if unit is None else unit)
        for k in range(_DIRECTIONS):
            # Start towards the right and turn both ways alternately, so that nearby
            # right-hand positions (the reading direction) are tried first.
            turn = (k + 1) // 2 * (1 if k % 2 else -1)
            angle = 2 * math.pi * turn / _DIRECTIONS
            ux, uy = math.cos(angle), math.sin(angle)
            cx = x + ux * (d + w / 2)
            cy = y + uy * (d + h / 2)
            yield (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), True


def _box_distance(box: Rect, xy: np.ndarray) -> np.ndarray:
    """Distance from each point of ``xy`` (n, 2) to the box (0 inside)."""
    dx = np.maximum(np.maximum(box[0] - xy[:, 0], xy[:, 0] - box[2]), 0.0)
    dy = np.maximum(np.maximum(box[1] - xy[:, 1], xy[:, 1] - box[3]), 0.0)
    return np.hypot(dx, dy)


def place_labels(
    points: np.ndarray,
    sizes: np.ndarray,
    frames: Sequence[Rect],
    *,
    marker_radius: float,
    gap: float,
    obstacles: Sequence[Rect] = (),
    fixed: Mapping[int, Rect] | None = None,
    markers: np.ndarray | None = None,
    point_radii: np.ndarray | None = None,
    marker_radii: np.ndarray | None = None,
    margin: float = 0.0,
    enclosures: Sequence[Rect] = (),
    inset: float = 0.0,
) -> list[Placement | None]:
    """Place one label per point, greedily, so that it cannot be read as another site's.

    No two labels meet, and no label covers a marker. A label placed next to its point is
    nearer to its own marker than to any other (by ``margin`` at least); a label that could
    not be so is moved away and joined to its point by a leader line, which crosses no other
    marker, and no other label or leader line unless every free position needs one that
    does (a tight cluster).

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
        Further boxes no label may cover (scale bar, frame names...).
    fixed
        Labels placed by hand: index → box. They are kept as given and avoided by the others.
    markers
        Array (m, 2) of the other markers (unlabelled sites), which labels avoid and which a
        label must not sit nearer to than to its own.
    point_radii, marker_radii
        Radius of each point's and each other marker's symbol (default ``marker_radius``).
    margin
        How much nearer its own marker a label must be than any other.
    enclosures
        Boxes of frames drawn over others (a zoom over the main map): only the labels
        whose frame lies inside one may enter it.
    inset
        Padding included in ``sizes`` (a halo) that the reader does not see as the label:
        distances to markers are measured from the box without it.

    Returns
    -------
    list of Placement or None
        One entry per point, in the input order; None where no free position exists (the
        caller warns and suggests a manual offset).
    """
    n = len(points)
    fixed = dict(fixed or {})
    others = np.zeros((0, 2)) if markers is None else np.asarray(markers, dtype=float)
    r_points = (np.full(n, marker_radius) if point_radii is None
                else np.asarray(point_radii, dtype=float))
    r_others = (np.full(len(others), marker_radius) if marker_radii is None
                else np.asarray(marker_radii, dtype=float))
    centres = np.vstack([np.asarray(points, dtype=float).reshape(-1, 2), others])
    radii = np.concatenate([r_points, r_others])
    cell = float(max(np.median(sizes[:, 0]) if n else 1.0, 4 * marker_radius, 1.0))
    # Markers in one grid (a leader may never cross one), labels and obstacles in another.
    marker_grid = _Grid(cell)
    for (x, y), r in zip(centres, radii, strict=True):
        marker_grid.add((x - r, y - r, x + r, y + r))
    grid = _Grid(cell)
    for box in obstacles:
        grid.add(box)
    placements: list[Placement | None] = [None] * n
    leaders: list[Segment] = []
    for index, box in sorted(fixed.items()):
        x, y = points[index]
        far = math.dist((x, y), _nearest(box, x, y)) > 2 * r_points[index]
        placements[index] = Placement(box, far)
        grid.add(box)
        if far:
            leaders.append(_leader(box, float(x), float(y)))
    if not n:
        return placements

    # Most crowded points first: they have the fewest free positions.
    reach = 4 * float(np.median(sizes[:, 0]))
    dx = centres[:n, None, 0] - centres[None, :, 0]
    dy = centres[:n, None, 1] - centres[None, :, 1]
    crowd = ((dx * dx + dy * dy) < reach * reach).sum(axis=1)
    # Markers overlapping marker i (none once the map has spread them apart).
    touching = np.hypot(dx, dy) < (r_points[:, None] + radii[None, :])
    order = [i for i in sorted(range(n), key=lambda i: (-int(crowd[i]), i)) if i not in fixed]

    def overlaps(a: Rect, b: Rect) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    closed = [[e for e in enclosures
               if not (frames[i][0] >= e[0] - 3 and frames[i][1] >= e[1] - 3
                       and frames[i][2] <= e[2] + 3 and frames[i][3] <= e[3] + 3)]
              for i in range(n)]

    def nearest_is_own(i: int, box: Rect) -> bool:
        box = (box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset)
        d = _box_distance(box, centres)
        own = d[i]
        d[i] = np.inf
        return bool(own + margin < d.min()) if len(d) > 1 else True

    # Leaders grow by steps of one line of text (two-line labels do not fly twice as far).
    unit = float(np.median(sizes[:, 1])) if n else 1.0

    def clear_of_others(i: int, box: Rect) -> bool:
        """Whether no other marker sits right next to a moved label (within 2.5 gaps)."""
        box = (box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset)
        d = _box_distance(box, centres)
        d[i] = np.inf
        return bool(d.min() >= 2.5 * gap) if len(d) > 1 else True

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
            # Free boxes whose leader crosses a label or leader, or (worst) a marker.
            over_label: Placement | None = None
            over_marker: Placement | None = None
            # A free box with a clear leader but nearer to another marker: taken only when
            # no box within a few more steps is nearer to its own.
            ambiguous: Placement | None = None
            patience = 0
            for box, leader in _candidates(x, y, float(sizes[i, 0]), float(sizes[i, 1]), gap,
                                           unit):
                if ambiguous is not None:
                    patience -= 1
                    if patience < 0:
                        break
                if (not _inside(box, frames[i]) or taken.hits(box)
                        or marker_grid.hits(box)
                        or any(overlaps(box, e) for e in closed[i])):
                    continue
                if any(_segment_hits_box(seg, box) for seg in lines):
                    continue  # the label would sit on another label's leader line
                if not leader:
                    if nearest_is_own(i, box):
                        chosen = Placement(box, False)
                        break
                    continue  # it would read as another site's label
                seg = _leader(box, x, y)
                if not _leader_is_clear(seg, marker_grid, own, r_points[i], []):
                    over_marker = over_marker or Placement(box, True)
                    continue
                if not _leader_is_clear(seg, taken, set(), r_points[i], lines):
                    over_label = over_label or Placement(box, True)
                    continue
                if not (nearest_is_own(i, box) or clear_of_others(i, box)):
                    if ambiguous is None:
                        ambiguous, patience = Placement(box, True), _AMBIGUOUS_PATIENCE
                    continue
                chosen = Placement(box, True)
                break
            if chosen is None and ambiguous is not None:
                chosen = ambiguous
                crossing.append(i)  # tried first next time
            if chosen is None and (over_label or over_marker) is not None:
                # In a tight cluster a leader may have to cross a neighbour: better than
                # no label.
                chosen = over_label or over_marker
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


def leader_crossings(placements: Sequence[Placement | None], points: np.ndarray,
                     markers: np.ndarray, radii: np.ndarray) -> list[int]:
    """Return the indices of the labels whose leader line crosses a marker not its own.

    Parameters
    ----------
    placements
        From :func:`place_labels`.
    points
        The labelled points.
    markers
        Every marker centre (the labelled points included), (m, 2).
    radii
        Their radii.

    Returns
    -------
    list of int
        Empty when no leader crosses a marker.
    """
    bad = []
    for i, placement in enumerate(placements):
        if placement is None or not placement.leader:
            continue
        x, y = (float(v) for v in points[i])
        seg = _leader(placement.box, x, y)
        own = np.hypot(markers[:, 0] - x, markers[:, 1] - y) < 1e-6
        start = max(float(radii[own].max()) if own.any() else 0.0, 0.0)
        length = math.hypot(seg[2] - seg[0], seg[3] - seg[1])
        if length <= start:
            continue
        t = start / length
        seg = (x + t * (seg[2] - x), y + t * (seg[3] - y), seg[2], seg[3])
        for k in np.flatnonzero(~own):
            mx, my, r = float(markers[k, 0]), float(markers[k, 1]), float(radii[k])
            if _segment_hits_box(seg, (mx - r, my - r, mx + r, my + r)):
                bad.append(i)
                break
    return bad


def _nearest(box: Rect, x: float, y: float) -> tuple[float, float]:
    """Point of ``box`` nearest to (x, y)."""
    return min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3])


def leader_anchor(box: Rect, x: float, y: float) -> tuple[float, float]:
    """Relative position (0–1 on each axis) on ``box`` where a leader line to (x, y) starts."""
    nx, ny = _nearest(box, x, y)
    w = box[2] - box[0] or 1.0
    h = box[3] - box[1] or 1.0
    return (nx - box[0]) / w, (ny - box[1]) / h
