"""What produced a run: its configuration, seeds, package versions, environment and platform.

:func:`write_provenance` records them next to the results (``results/provenance.json``), so a
result can be traced to the exact settings and software that made it. The record holds no
time stamp or host name: the same configuration and environment give the same file, byte for
byte, and rerunning the workflow does not rewrite it for nothing.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emoflow._atomic import write_json

PACKAGES = (
    "emoflow",
    "torch",
    "mediapipe",
    "numpy",
    "polars",
    "pyarrow",
    "zarr",
    "captum",
    "snakemake",
    "opencv-python-headless",
    "scikit-image",
    "scikit-learn",
    "scipy",
    "jsonschema",
)
"""Distributions whose installed versions are recorded."""


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` when it is not installed).

    Read from the installed metadata: nothing is imported.
    """
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    if versions.get("emoflow") is None:
        from emoflow import __version__

        versions["emoflow"] = __version__
    return versions


def installed_distributions() -> list[str]:
    """Every installed distribution as ``name==version``, sorted by name: what
    ``pip freeze --all`` lists, read from the installed metadata (no subprocess, nothing
    imported).

    A name installed twice on the path (a user site beside the environment) is listed once,
    as the first one Python would import. An editable install (emoflow in a development
    checkout) is listed by its version where ``pip freeze`` writes ``-e PATH``, so the record
    holds no path of the machine.
    """
    seen: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        if not name:
            continue
        key = name.lower().replace("_", "-").replace(".", "-")
        seen.setdefault(key, f"{name}=={distribution.version}")
    return [seen[key] for key in sorted(seen)]


def platform_record() -> dict[str, str]:
    """Python and operating-system facts that can change numerical results."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "byteorder": sys.byteorder,
    }


def find_seeds(config: Any, prefix: str = "") -> dict[str, Any]:
    """Every ``seed`` value of a nested configuration, by key path (``train.model.seed``)."""
    seeds: dict[str, Any] = {}
    if isinstance(config, Mapping):
        for key, value in config.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if str(key) == "seed" or str(key).endswith("_seed"):
                seeds[path] = value
            else:
                seeds.update(find_seeds(value, path))
    elif isinstance(config, list | tuple):
        for index, value in enumerate(config):
            seeds.update(find_seeds(value, f"{prefix}[{index}]"))
    return seeds


def _plain(value: Any) -> Any:
    """A JSON-ready copy (Snakemake's config holds its own mapping and list types)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def provenance_record(config: Mapping[str, Any]) -> dict[str, Any]:
    """The record :func:`write_provenance` writes."""
    plain = _plain(config)
    return {
        "emoflow_provenance": 1,
        "packages": package_versions(),
        "environment": installed_distributions(),
        "platform": platform_record(),
        "seeds": find_seeds(plain),
        "config": plain,
    }


def read_dataset(path: str | Path) -> dict[str, Any] | None:
    """The ``dataset`` section of the configuration recorded by :func:`write_provenance`
    (``adapter``, ``source``, …); ``None`` when the file is missing, unreadable or has none
    (results of an older emoflow, or a model file outside its run's folder)."""
    import json

    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    config = record.get("config") if isinstance(record, dict) else None
    dataset = config.get("dataset") if isinstance(config, dict) else None
    return dict(dataset) if isinstance(dataset, dict) else None


def write_provenance(path: str | Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """Write the run's configuration, seeds, package versions, environment and platform as
    JSON, atomically.

    Parameters
    ----------
    path
        The JSON file, e.g. ``results/provenance.json``.
    config
        The run's configuration (the workflow's ``config``, defaults filled in).

    Returns
    -------
    dict
        The record written: ``packages`` (the packages that compute results → version),
        ``environment`` (every installed distribution, ``name==version``: the exact
        environment, :func:`installed_distributions`), ``platform``, ``seeds`` (key path →
        value) and ``config``.
    """
    record = provenance_record(config)
    write_json(path, record)
    return record


__all__ = [
    "find_seeds",
    "installed_distributions",
    "package_versions",
    "platform_record",
    "read_dataset",
    "write_provenance",
]
