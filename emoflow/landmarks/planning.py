"""Planning the extraction before it runs: which videos each shard (job) holds
(:func:`plan_shards`), the settings that can change a shard's table
(:func:`extraction_settings`), the memory a shard's job needs (:func:`extraction_mem_mb`),
and the console's summary of the videos decoded in part (:func:`decoding_summary`).

The workflow calls these when it reads the Snakefile (every ``snakemake`` run, and every job of
a cluster run): this module is light, without Face Mesh, the landmark importers or
pyarrow.compute, which only the extraction itself (:mod:`emoflow.landmarks.extract`) needs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emoflow.landmarks.settings import LandmarkSettings
from emoflow.video import MAX_SIDE, probe_video

if TYPE_CHECKING:
    import polars as pl


MANIFEST_ITEM_COLUMNS: dict[str, str] = {
    "start_s": "start_s",
    "end_s": "end_s",
    "landmarks_format": "landmarks_format",
}
"""Optional manifest columns :func:`~emoflow.landmarks.extract.extract_shard` honours →
:class:`~emoflow.video.VideoItem` fields."""
MANIFEST_IMPORT_COLUMNS: dict[str, str] = {
    "landmarks_fps": "fps",
    "landmarks_width": "width",
    "landmarks_height": "height",
    "landmarks_units": "units",
    "landmarks_layout": "layout",
}
"""Optional manifest columns → :func:`~emoflow.landmarks.importers.import_landmarks` options of
CSV imports."""


SHARDING_KEYS = LandmarkSettings.SHARDING_KEYS
"""``landmarks`` settings that decide how videos are split into jobs, not their landmarks."""


def extraction_settings(
    section: Mapping[str, Any], feature_frames: int | None = None
) -> dict[str, Any]:
    """The ``landmarks`` config section less :data:`SHARDING_KEYS`: what can change a
    shard's table (so more shards re-run no extraction).

    With ``frames: sampled`` (the default) the frames meshed depend on ``features.n_frames``,
    given as ``feature_frames``: it is added as ``feature_frames``, so that a change of it
    re-runs extraction; with ``frames: all`` it is left out, and re-runs nothing.
    """
    settings = {key: value for key, value in section.items() if key not in SHARDING_KEYS}
    if settings.get("frames") != "sampled":
        settings.pop("feature_frames", None)
    elif feature_frames is not None:
        settings["feature_frames"] = feature_frames
    return settings


EXTRACTION_BASE_MB = 350
"""Peak memory of an extraction job on small frames: interpreter, imports, Face Mesh graphs and
the face detector (measured: 306–309 MB peak RSS on 256×256 videos)."""
EXTRACTION_BYTES_PER_PIXEL = 64
"""Peak memory per pixel of a shard's largest frame size: decoder buffers, the RGB frame and
MediaPipe's copies of it (measured above the base: 3840×2160 +399 MB, 4096×4096 +1052 MB)."""
EXTRACTION_MARGIN = 1.2
"""Head room over the estimate (allocator growth, other codecs' buffers)."""


def extraction_mem_mb(
    videos: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any] | None = None,
    *,
    default_size: tuple[int, int] | None = None,
) -> int:
    """Memory (MB) one extraction job needs for a planned shard (:func:`plan_shards`'s
    ``videos``), for the rule's ``mem_mb``: :data:`EXTRACTION_BASE_MB`, the largest frame
    size among its videos (:data:`EXTRACTION_BYTES_PER_PIXEL`; sizes above
    ``landmarks.max_frame_side`` are refused before decoding and cost nothing), and the rows
    the shard holds before a row group is written (bounded by its frame count), with
    :data:`EXTRACTION_MARGIN`, rounded up to 100 MB.

    Frame sizes and counts come from the videos' headers (:func:`emoflow.video.probe_video`,
    well under a millisecond each); a video that does not exist yet (the demo's, made by the
    workflow) counts as ``default_size`` (and 300 frames).
    """
    from emoflow.facemesh.mesh import N_LANDMARKS
    from emoflow.storage.landmark_table.writer import ROW_GROUP_ROWS

    section = settings or {}
    max_side = int(section.get("max_frame_side") or MAX_SIDE)
    largest = 0
    frames = 0
    for row in videos:
        if row.get("landmarks_format"):
            continue  # imported: no decoding
        probed = probe_video(row["path"]) if os.path.exists(row["path"]) else None
        if probed is None and default_size is not None:
            probed = (default_size[0], default_size[1], 300)
        if probed is None or max(probed[0], probed[1]) > max_side:
            continue
        largest = max(largest, probed[0] * probed[1])
        frames += probed[2] or 300
    rows = min(frames, 2 * ROW_GROUP_ROWS)  # pending rows, and their copy as one table
    need = (
        EXTRACTION_BASE_MB
        + largest * EXTRACTION_BYTES_PER_PIXEL / 2**20
        + rows * N_LANDMARKS * 3 * 4 * 2 / 2**20
    )
    return int(math.ceil(need * EXTRACTION_MARGIN / 100) * 100)


def shard_of(video_id: str, n_shards: int) -> int:
    """The shard of a video: a hash of its id, so adding or removing other videos never
    moves it to another shard."""
    return zlib.crc32(video_id.encode("utf-8")) % n_shards


def plan_shards(
    manifest: pl.DataFrame, n_shards: int, *, stat_files: bool = True
) -> list[dict[str, Any]]:
    """Per shard, its videos (the manifest rows extraction reads: id, path, window, import
    options) and a digest of what its extraction depends on.

    The digest covers each video's id, path, time window and import options, and (with
    ``stat_files``) the size and modification time of its file, but not its labels: a label
    fix changes no digest, a new, removed or changed video changes only its own shard's.
    Videos that the workflow makes itself (the demo) are not stat-ed: their rule is an input
    of the extraction instead.
    """
    columns = [
        name
        for name in ("video_id", "path", *MANIFEST_ITEM_COLUMNS, *MANIFEST_IMPORT_COLUMNS)
        if name in manifest.columns
    ]
    shards: list[dict[str, Any]] = [
        {"videos": [], "digest": hashlib.sha256()} for _ in range(n_shards)
    ]
    for row in manifest.select(columns).iter_rows(named=True):
        shard = shards[shard_of(row["video_id"], n_shards)]
        shard["videos"].append(dict(row))
        row["file"] = None
        if stat_files:
            try:
                stat = os.stat(row["path"])
                row["file"] = [stat.st_size, stat.st_mtime_ns]
            except OSError:
                pass
        shard["digest"].update(json.dumps(row, sort_keys=True, default=str).encode())
    return [{"videos": shard["videos"], "digest": shard["digest"].hexdigest()} for shard in shards]


def decoding_summary(landmark_paths: str | Path | Sequence[str | Path]) -> str:
    """A few lines for the console at the end of a run: the videos decoded only in part or
    with a header their frames contradict
    (:func:`emoflow.storage.landmark_table.schema.decoding_problems`); ``""`` when there are
    none or no shard exists yet."""
    from emoflow.errors import EmoflowError
    from emoflow.storage.landmark_table.reader import read_video_records
    from emoflow.storage.landmark_table.schema import decoding_problems

    paths = [landmark_paths] if isinstance(landmark_paths, str | Path) else list(landmark_paths)
    existing = [path for path in paths if Path(path).exists()]
    if not existing:
        return ""
    try:
        problems = decoding_problems(read_video_records(existing))
    except EmoflowError as err:
        return f"emoflow: {err}"
    if not problems:
        return ""
    shown = 5
    lines = [f"emoflow: {len(problems)} video(s) decoded in part or with a contradicted header:"]
    lines += [f"  {video_id}: {text}" for video_id, text in list(problems.items())[:shown]]
    if len(problems) > shown:
        lines.append(f"  … and {len(problems) - shown} more (see the report's data page)")
    return "\n".join(lines)
