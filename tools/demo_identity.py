"""Check that two emoflow checkouts give the demo the same landmark tables and features.

Run as ``.venv/bin/python tools/demo_identity.py --baseline CHECKOUT`` (e.g. ``git worktree add
/tmp/main main``): the demo data set of ``config/config.yaml`` is made once, then each
checkout's emoflow (in a process of its own) extracts its landmark shards as the workflow
plans them (``landmarks.frames`` as configured, or ``--frames all``) and builds the feature
store. The rows of every shard must be equal, every video record equal but for keys the
baseline does not have (they are listed), and the features equal bit for bit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]

EXTRACT = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import polars as pl, yaml
from emoflow.config import validate_config
from emoflow.features import FeatureSettings, build_features
from emoflow.landmarks import extract_planned, extraction_settings, plan_shards
out, demo, frames = Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
config = validate_config(yaml.safe_load(open(Path(sys.argv[1]) / "config" / "config.yaml")))
if frames:
    config["landmarks"]["frames"] = frames
labels = pl.read_csv(demo / "labels.csv")
manifest = labels.with_columns((pl.lit(str(demo) + "/") + pl.col("path")).alias("path"))
manifest.select("video_id", "path", "subject", "emotion").write_parquet(out / "manifest.parquet")
settings = extraction_settings(config["landmarks"], config["features"]["n_frames"])
shards = []
for index, shard in enumerate(plan_shards(manifest, config["landmarks"]["n_shards"])):
    shards.append(out / f"shard_{index}.parquet")
    extract_planned(shard["videos"], shards[-1], settings=settings)
store = out / "features.zarr"
build_features(out / "manifest.parquet", shards, store, FeatureSettings(**config["features"]))
"""


def extract(checkout: Path, out: Path, demo: Path, frames: str) -> None:
    out.mkdir(parents=True)
    code = [sys.executable, "-c", EXTRACT, str(checkout), str(out), str(demo), frames]
    subprocess.run(code, check=True, capture_output=True)


def compare(before: Path, after: Path) -> None:
    import zarr

    new_keys: set[str] = set()
    for shard in sorted(before.glob("shard_*.parquet")):
        rows = pl.read_parquet(shard)
        if not rows.equals(pl.read_parquet(after / shard.name)):
            raise SystemExit(f"{shard.name}: rows differ")
        old = json.loads(pq.read_schema(shard).metadata[b"emoflow.videos"])
        new = json.loads(pq.read_schema(after / shard.name).metadata[b"emoflow.videos"])
        for video_id, record in old.items():
            if any(new[video_id][key] != value for key, value in record.items()):
                raise SystemExit(f"{shard.name}: record of {video_id} differs")
            new_keys |= set(new[video_id]) - set(record)
        print(f"{shard.name}: {rows.height} rows equal, {len(old)} records equal")
    print(f"keys the baseline's records lack: {sorted(new_keys) or 'none'}")
    old_store = zarr.open(str(before / "features.zarr"), mode="r")
    new_store = zarr.open(str(after / "features.zarr"), mode="r")
    for name in ("features", "video_id"):
        old_values = np.asarray(old_store[name][...])
        new_values = np.asarray(new_store[name][...])
        if old_values.shape != new_values.shape or not (old_values == new_values).all():
            raise SystemExit(f"features.zarr: {name} differs")
    print(f"features {old_store['features'].shape}: equal bit for bit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--frames", choices=["sampled", "all"], default="", help="mode")
    args = parser.parse_args()
    import yaml

    from emoflow.config import validate_config
    from emoflow.demo import DemoSpec, make_demo

    config = validate_config(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    with tempfile.TemporaryDirectory(prefix="emoflow-identity-") as tmp:
        folder = Path(tmp)
        spec = DemoSpec.from_section(dict(config["demo"]), emotions=config["dataset"]["emotions"])
        make_demo(folder / "demo", spec)
        extract(args.baseline.resolve(), folder / "before", folder / "demo", args.frames)
        extract(ROOT, folder / "after", folder / "demo", args.frames)
        compare(folder / "before", folder / "after")


if __name__ == "__main__":
    main()
