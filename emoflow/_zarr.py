"""Emoflow's Zarr stores (the feature and the attribution store): how one is written and how
one is opened, the same for every kind.

A store is written in a staging folder (:func:`emoflow._atomic.atomic_path`), its arrays
with checksummed chunks and named dimensions (:func:`zarr_array`); when it is complete its
metadata is consolidated and the store sealed (:func:`emoflow._integrity.seal_store`) before
it is renamed into place (:func:`written_store`). :func:`open_store` checks the seal and the
store's kind before anything is read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from emoflow._atomic import atomic_path, portable_attributes
from emoflow._integrity import check_store, seal_store
from emoflow.errors import InputError

SAMPLE_LONG_NAMES = {
    "video_id": "video of the sample",
    "subject": "subject (person) of the sample",
    "sample": "sample (its video id)",
    "frame": "frame after temporal resampling",
    "landmark": "landmark id in the landmark scheme",
    "coord": "landmark coordinate axis",
}
"""``long_name`` of the arrays both stores have: two sample labels and four dimensions."""


def consolidate_zarr(path: str | Path) -> None:
    """Consolidate a finished Zarr store's metadata into its root ``zarr.json``.

    ``xarray.open_zarr`` then opens the store from that one document: without a warning about
    unconsolidated metadata, and without listing the folder, so files that are not part of
    the store (Snakemake's ``.snakemake_timestamp`` in a ``directory()`` output) are never
    looked at. zarr warns that consolidated metadata is not yet in the Zarr v3 specification;
    zarr and xarray read it, so that warning is silenced here.
    """
    import warnings

    import zarr

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not")
        zarr.consolidate_metadata(str(path))


def checked_compressors() -> tuple[Any, ...]:
    """Zarr v3 codecs for emoflow's float arrays: zstd, then a CRC-32C of each stored chunk.

    zarr verifies the checksum whenever it reads a chunk, so a flipped byte in a stored chunk
    is an error instead of other numbers.
    """
    from zarr.codecs import Crc32cCodec, ZstdCodec

    return (ZstdCodec(level=0), Crc32cCodec())


def zarr_array(
    root: Any,
    name: str,
    values: Any = None,
    *,
    dims: Any,
    attributes: dict[str, Any],
    **options: Any,
) -> Any:
    """Create the array ``name`` of the Zarr group ``root``: chunks checksummed
    (:func:`checked_compressors`), dimensions named ``dims`` (``dimension_names``), and
    ``attributes`` (:func:`portable_attributes`). ``values`` (a NumPy array; strings stored as
    strings) are written when given; ``options`` go to ``create_array`` (``shape``, ``dtype``,
    ``chunks``, ``fill_value``; ``shape`` and ``dtype`` default to those of ``values``)."""
    if values is not None:
        dtype = str if values.dtype.kind in "US" else values.dtype
        options = {"shape": values.shape, "dtype": dtype, **options}
    array = root.create_array(
        name, compressors=checked_compressors(), dimension_names=dims, **options
    )
    if values is not None:
        array[...] = values
    array.attrs.update(portable_attributes(attributes))
    return array


@contextlib.contextmanager
def written_store(path: str | Path) -> Iterator[tuple[Any, Path]]:
    """The root group of a new store at ``path`` and the folder it is staged in; when the
    block ends without an error its metadata is consolidated, the store sealed and renamed
    into place."""
    import zarr

    with atomic_path(path, directory=True) as staged:
        yield zarr.open_group(str(staged), mode="w"), staged
        consolidate_zarr(staged)
        seal_store(staged)


def open_store(path: str | Path, kind: str, name: str, remedy: str) -> Any:
    """The root group of the store at ``path``, checked to be sealed and an emoflow store of
    ``kind`` (its ``emoflow_store`` attribute); an :class:`InputError` naming the store (a
    ``name``) and, where it is damaged, the ``remedy``."""
    import zarr

    if not Path(path).exists():
        raise InputError(path, f"{name} does not exist")
    check_store(path, remedy)
    try:
        root = zarr.open_group(str(path), mode="r")
        found = root.attrs.get("emoflow_store")
    except MemoryError:  # out of memory is no damage of the store
        raise
    except Exception as err:  # zarr and JSON raise many kinds on a damaged store
        raise InputError(path, f"not a readable Zarr store ({err}); {remedy}") from err
    if found != kind:
        raise InputError(path, f"not an emoflow {name}")
    return root


def read_strings(array: Any) -> np.ndarray:
    """A Zarr string array as a NumPy unicode array (Zarr returns NumPy's StringDType)."""
    return np.array(np.asarray(array[...]).tolist(), dtype=str)
