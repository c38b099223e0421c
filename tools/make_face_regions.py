"""Regenerate ``emoflow/schemes/_mediapipe_regions.py``: face regions that partition the mesh.

Run once by a developer (``python tools/make_face_regions.py``); the package reads the written
module and never needs this script. Input: the Face Mesh topology of
``emoflow/facemesh/face_mesh.json`` (MediaPipe's named landmark groups, the tesselation and the
reference face).

How every one of the 478 landmarks gets exactly one region (:func:`partition`): the features
(eyes, eyebrows, mouth, nose) are MediaPipe's named groups grown a little along the mesh; the
face oval is the contour (its points below the mouth corners the jaw); the areas (forehead,
cheeks, jaw) and the contour fill the rest, each point joining the nearest along the mesh; the
left regions mirror the right ones; the iris points join their eye.

The written module holds only the ids, region by region; ``tests/test_schemes.py`` checks that
they partition the mesh and that this script writes the same module.
"""

from __future__ import annotations

import heapq
import json
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESOURCE = ROOT / "emoflow" / "facemesh" / "face_mesh.json"
OUT = ROOT / "emoflow" / "schemes" / "_mediapipe_regions.py"

REGIONS: tuple[str, ...] = (
    "forehead",
    "right_eyebrow",
    "left_eyebrow",
    "right_eye",
    "left_eye",
    "nose",
    "right_cheek",
    "left_cheek",
    "mouth",
    "jaw",
    "right_contour",
    "left_contour",
)
"""The regions, top of the face to bottom (the order tables list them in)."""

FEATURES: dict[str, tuple[tuple[str, ...], float]] = {
    "right_eye": (("right_eye",), 0.10),
    "left_eye": (("left_eye",), 0.10),
    "right_eyebrow": (("right_eyebrow",), 0.07),
    "left_eyebrow": (("left_eyebrow",), 0.07),
    "mouth": (("lips", "mouth_corners"), 0.10),
    "nose": (("nose",), 0.07),
}
"""Feature region → the named groups that seed it, and how far (a share of the inter-ocular
distance, along the mesh) it reaches beyond them."""
AREAS: dict[str, tuple[str, ...]] = {
    "forehead": ("forehead",),
    "right_cheek": ("right_cheek",),
    "left_cheek": ("left_cheek",),
    "jaw": ("chin",),
}
"""Area region → the named groups that seed it (with the face oval's points: see
:func:`partition`); areas fill what the feature regions leave."""
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263

N_MESH = 468


def _mirror(name: str) -> str:
    if name.startswith("right_"):
        return "left_" + name.removeprefix("right_")
    if name.startswith("left_"):
        return "right_" + name.removeprefix("left_")
    return name


def _grow(
    seeds: dict[int, str],
    neighbours: dict[int, list[tuple[int, float]]],
    reach: dict[str, float],
    taken: dict[int, str],
) -> dict[int, str]:
    """Multi-source Dijkstra: each point not in ``taken`` joins its nearest seed's region
    along the mesh (paths may cross ``taken`` points), no farther than that region's
    ``reach``."""
    grown: dict[int, str] = {}
    distance = {point: 0.0 for point in seeds}
    queue = [(0.0, point, seeds[point]) for point in sorted(seeds)]
    heapq.heapify(queue)
    while queue:
        far, point, name = heapq.heappop(queue)
        if point in grown:
            continue
        grown[point] = name
        for other, length in neighbours[point]:
            step = far + length
            if (
                other not in grown
                and step <= reach.get(name, np.inf)
                and step < distance.get(other, np.inf)
            ):
                distance[other] = step
                heapq.heappush(queue, (step, other, name))
    return {point: name for point, name in grown.items() if point not in taken}


def partition(resource: dict) -> dict[str, list[int]]:
    """Region name → sorted landmark ids; every id of the 478 in exactly one region.

    1. Feature regions (eyes, eyebrows, mouth, nose) are their named groups (an eyebrow keeps
       a point it shares with the forehead, the lips one they share with the mouth corners)
       grown along the mesh by :data:`FEATURES`' reach: the eyelids' and lips' surroundings.
    2. The face oval's points are the contour, split at the midline into the subject's right
       and left, except those of the forehead and chin groups and those below the mouth
       corners, which are the jaw (jaw line and chin).
    3. Area regions (forehead, cheeks, jaw) and the contour fill the rest of the mesh: each
       remaining point joins the nearest along the mesh (Dijkstra over the tesselation's
       edges, weighted by their length on the reference face).
    4. Each point on the subject's right gives its mirror partner the mirrored region, so the
       left and right regions are mirror images; the 10 iris points join their eye.
    """
    groups = {name: set(ids) for name, ids in resource["regions"].items()}
    reference = np.asarray(resource["reference_face"], dtype=np.float64)
    partner = np.asarray(resource["mirror"], dtype=np.int64)
    midline_x = float(np.median(reference[partner == np.arange(len(partner)), 0]))
    interocular = float(np.linalg.norm(reference[RIGHT_EYE_OUTER] - reference[LEFT_EYE_OUTER]))
    neighbours: dict[int, list[tuple[int, float]]] = {i: [] for i in range(N_MESH)}
    for a, b in resource["tesselation"]:
        if a < N_MESH and b < N_MESH:
            length = float(np.linalg.norm(reference[a] - reference[b]))
            neighbours[a].append((b, length))
            neighbours[b].append((a, length))
    features: dict[int, str] = {}
    for name, (seed_groups, _) in FEATURES.items():
        for group in seed_groups:
            for point in sorted(groups[group]):
                if point < N_MESH:
                    features.setdefault(point, name)
    reach = {name: share * interocular for name, (_, share) in FEATURES.items()}
    region = _grow(features, neighbours, reach, {})
    mouth_corners_y = float(reference[[61, 291], 1].mean())
    areas: dict[int, str] = {}
    for name, seed_groups in AREAS.items():
        for group in seed_groups:
            for point in sorted(groups[group]):
                if point < N_MESH and point not in region:
                    areas.setdefault(point, name)
    for point in sorted(groups["face_oval"]):
        if point in region or point in areas:
            continue
        if reference[point, 1] > mouth_corners_y:
            areas[point] = "jaw"
        else:
            side = "right" if reference[point, 0] < midline_x else "left"
            areas[point] = f"{side}_contour"
    region |= _grow(areas, neighbours, {}, region)
    missing = sorted(set(range(N_MESH)) - set(region))
    if missing:
        raise RuntimeError(f"mesh points not reached from any seed: {missing}")
    for point in range(N_MESH):  # mirror the subject's right half onto the left
        other = int(partner[point])
        if other != point and reference[point, 0] < reference[other, 0]:
            region[other] = _mirror(region[point])
    for point in range(N_MESH):
        if int(partner[point]) == point and region[point].startswith(("right_", "left_")):
            raise RuntimeError(f"midline point {point} fell in a sided region {region[point]}")
    eyes = {
        side: reference[sorted(groups[f"{side}_eye"])].mean(axis=0) for side in ("right", "left")
    }
    for point in range(N_MESH, len(reference)):  # the iris points: the eye they lie in
        side = min(eyes, key=lambda s: float(np.linalg.norm(reference[point] - eyes[s])))
        region[point] = f"{side}_eye"
    return {name: sorted(p for p, n in region.items() if n == name) for name in REGIONS}


def module_text(regions: dict[str, list[int]]) -> str:
    """The Python source of ``_mediapipe_regions.py``."""
    lines = [
        '"""Face regions of MediaPipe Face Mesh that partition its 478 landmarks (468 mesh points',
        "and 10 iris points): every landmark lies in exactly one region.",
        "",
        "Generated by ``tools/make_face_regions.py`` from ``emoflow/facemesh/face_mesh.json`` (see",
        "that script for how each point was assigned); do not edit by hand. Left and right are the",
        'subject\'s own, as in MediaPipe\'s names."""',
        "",
        "# fmt: off",
        "FACE_REGIONS: dict[str, tuple[int, ...]] = {",
    ]
    for name, ids in regions.items():
        lines.append(f'    "{name}": (')
        body = textwrap.wrap(", ".join(map(str, ids)) + ",", width=88)
        lines += [f"        {line}" for line in body]
        lines.append("    ),")
    lines.append("}")
    lines.append("# fmt: on")
    lines.append('"""Region → landmark ids, top of the face to bottom."""')
    return "\n".join(lines) + "\n"


def main() -> None:
    resource = json.loads(RESOURCE.read_text())
    text = module_text(partition(resource))
    OUT.write_text(text)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
