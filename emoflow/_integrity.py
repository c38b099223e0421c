"""Whole-file digests: every byte of an artifact emoflow writes is checked when it is read.

Page checksums (Parquet) and chunk checksums (Zarr) cover the data, not what describes it: a
Parquet file's footer (its schema, row groups and the key-value metadata where a landmark
shard keeps every video's record) and a Zarr store's metadata documents (``zarr.json``) have
none. A flipped bit there gave other numbers without a word (a frame width of 656 instead of
256), or a library panic naming no file. Here every such artifact carries a SHA-256 over all
of its bytes, checked before the file is parsed; a mismatch is one :class:`InputError` naming
the file and the rerun that rewrites it.

Parquet (:func:`seal_parquet`, :func:`check_parquet`)
    The digests sit in the file itself, as the key-value metadata :data:`PARQUET_DIGEST_KEYS`:
    the SHA-256 of the data pages (every byte before the footer) and of the whole file. The
    file is written with both values as 64 ``0`` characters (:func:`sealable_metadata`), both
    digests are taken in one pass (the whole file's with the two values as zeros), and the
    values are overwritten in place (the footer keeps its length). A reader recomputes both:
    any flipped byte changes one of them, and which one says whether the data pages (then the
    page checksums name the page) or the footer were damaged. Two keys also mean that a flip
    in one key's name cannot make a sealed file look like one written without digests: a
    file with one key is damaged. A file without the keys (of an earlier emoflow, or of
    another tool) is read unchecked, as before; so is a copy whose values are still zeros
    (pyarrow hands the metadata on as it was before sealing, so a table read and written
    again by pyarrow carries the keys unsealed).

Zarr stores (:func:`seal_store`, :func:`check_store`)
    The store's folder holds :data:`STORE_RECORD`: the SHA-256 of every metadata document
    (every ``zarr.json``), the size of every chunk file (whose content each chunk's CRC-32C
    covers; a missing chunk would otherwise read as fill values) and a SHA-256 of the record
    itself. Stores without the record (earlier emoflow) are read unchecked.

Hashing costs about a millisecond per megabyte (SHA-256, ~1 GB/s on the development machine);
nothing is cached, so a file changed in place is always seen.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emoflow.errors import InputError

DIGEST_LENGTH = 64
"""Hex characters of a SHA-256."""
PLACEHOLDER = "0" * DIGEST_LENGTH
"""A digest's value while the file is written (and in a copy that was never sealed)."""
PARQUET_DIGEST_KEYS = ("emoflow.data_sha256", "emoflow.file_sha256")
"""Key-value metadata of a sealed Parquet file: the SHA-256 of its data pages (every byte before
the footer), and of the whole file (the two values read as placeholders)."""
STORE_RECORD = "emoflow_integrity.json"
"""The integrity record in a sealed Zarr store's folder."""
STORE_RECORD_FORMAT = 1
_THRIFT_64 = b"\x18\x40"
"""Thrift compact encoding before a key-value's 64-byte value: field 2 (binary), length 64."""
_FOOTER_WINDOW = 1 << 20
"""Bytes at the end of a Parquet file searched for the digest keys when its footer length is
implausible."""
_BLOCK = 1 << 22


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


# -- Parquet ---------------------------------------------------------------------------------
def sealable_metadata(metadata: dict[Any, Any] | None) -> dict[Any, Any]:
    """``metadata`` with the digest keys set to the placeholder (any earlier values dropped):
    the schema metadata to write a file with before :func:`seal_parquet`."""
    kept = {
        key: value
        for key, value in (metadata or {}).items()
        if (key.decode() if isinstance(key, bytes) else key) not in PARQUET_DIGEST_KEYS
    }
    return {**kept, **{key: PLACEHOLDER for key in PARQUET_DIGEST_KEYS}}


@dataclass(frozen=True)
class _Seal:
    """Where a Parquet file's digests are: the footer's start (from its length field; the
    data pages lie before it) and each digest key's 64-byte value (``None``: not found)."""

    size: int
    footer_start: int
    values: tuple[int | None, ...]


def _locate(path: Path) -> _Seal:
    """Find the footer and the digest keys' values; the keys are searched in the footer, or
    in the last :data:`_FOOTER_WINDOW` bytes when the footer length is implausible."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(max(0, size - 8))
        end = handle.read(8)
        footer_length = int.from_bytes(end[:4], "little") if len(end) == 8 else -1
        plausible = 0 < footer_length <= size - 12
        footer_start = size - 8 - footer_length if plausible else size
        start = footer_start if plausible else max(0, size - _FOOTER_WINDOW)
        handle.seek(start)
        tail = handle.read(size - start)
    values: list[int | None] = []
    for key in PARQUET_DIGEST_KEYS:
        marker = key.encode()
        found = tail.rfind(marker)
        if found >= 0 and tail.find(marker) != found:
            raise InputError(path, f"the Parquet footer names {key!r} twice")
        values.append(None if found < 0 else start + found + len(marker) + len(_THRIFT_64))
    return _Seal(size, footer_start, tuple(values))


def _digests(path: Path, seal: _Seal) -> tuple[str, str]:
    """SHA-256 of the bytes before the footer (the data pages), and of the whole file with
    the digest values read as placeholders; one pass over the file."""
    regions = {offset for offset in seal.values if offset is not None}
    whole = hashlib.sha256()
    data = None
    position = 0
    with open(path, "rb") as handle:
        for stop in sorted({*regions, seal.footer_start, seal.size}):
            while position < stop:
                block = handle.read(min(_BLOCK, stop - position))
                if not block:  # shorter than when it was measured: rewritten meanwhile
                    raise OSError(f"{path} changed while it was read")
                whole.update(block)
                position += len(block)
            if stop == seal.footer_start:
                data = whole.copy()
            if stop in regions:
                handle.seek(DIGEST_LENGTH, os.SEEK_CUR)
                whole.update(PLACEHOLDER.encode())
                position += DIGEST_LENGTH
    assert data is not None
    return data.hexdigest(), whole.hexdigest()


def seal_parquet(path: str | Path) -> tuple[str, str]:
    """Write the digests of a Parquet file written with :func:`sealable_metadata` into its
    digest keys' values, in place (before the file is moved to where readers see it).

    Returns
    -------
    tuple of str
        The SHA-256 of its data pages and of the whole file (:data:`PARQUET_DIGEST_KEYS`).
    """
    file = Path(path)
    seal = _locate(file)
    if any(offset is None for offset in seal.values) or seal.footer_start >= seal.size:
        raise ValueError(f"{file}: written without the digest keys (sealable_metadata)")
    with open(file, "r+b") as handle:
        for offset in seal.values:
            assert offset is not None
            handle.seek(offset - len(_THRIFT_64))
            if handle.read(len(_THRIFT_64) + DIGEST_LENGTH) != _THRIFT_64 + PLACEHOLDER.encode():
                raise ValueError(f"{file}: the digest keys do not hold the placeholder")
    digests = _digests(file, seal)
    with open(file, "r+b") as handle:
        for offset, digest in zip(seal.values, digests, strict=True):
            assert offset is not None
            handle.seek(offset)
            handle.write(digest.encode())
    return digests


def check_parquet(
    path: str | Path, remedy: str, *, on_damaged_data: Callable[[], None] | None = None
) -> str | None:
    """Check a Parquet file's digests before it is parsed.

    Parameters
    ----------
    remedy
        What the message tells to do.
    on_damaged_data
        Called when the data pages (not the footer) are damaged, before the digest error is
        raised: a reader that verifies page checksums can name the damaged page (its own
        error then propagates).

    Returns
    -------
    str or None
        The whole file's digest, or ``None`` for a file without one (written before digests,
        or by another tool): nothing to check.

    Raises
    ------
    InputError
        Naming the file and ``remedy``: a digest does not match the bytes, or the digests'
        record is damaged.
    """
    file = Path(path)
    try:
        seal = _locate(file)
        if all(offset is None for offset in seal.values):
            return None
        stored, problem = _stored_digests(file, seal)
        if stored is None and problem is None:
            return None  # a copy written by another program from emoflow's metadata
        if problem is None:
            assert stored is not None
            data, whole = _digests(file, seal)
            if (data, whole) == stored:
                return whole
            if data != stored[0] and on_damaged_data is not None:
                on_damaged_data()
            damaged_data = data != stored[0]
            where = "its data pages do" if damaged_data else "its footer (schema, metadata) does"
            which = 0 if damaged_data else 1
            problem = (
                f"{where} not match the SHA-256 stored in it (stored {stored[which][:12]}…, "
                f"computed {(data, whole)[which][:12]}…)"
            )
    except OSError as err:
        raise InputError(file, f"cannot be read ({err})") from err
    raise InputError(file, f"corrupt Parquet file: {problem}; {remedy}")


def _stored_digests(file: Path, seal: _Seal) -> tuple[tuple[str, str] | None, str | None]:
    """``(digests, None)`` as stored, ``(None, None)`` for a copy that was never sealed (both
    values placeholders), ``(None, problem)`` when the record itself is damaged."""
    missing = [k for k, at in zip(PARQUET_DIGEST_KEYS, seal.values, strict=True) if at is None]
    if missing:
        return None, f"its footer lacks the digest key {missing[0]!r}"
    values = []
    with open(file, "rb") as handle:
        for offset in seal.values:
            assert offset is not None
            handle.seek(offset - len(_THRIFT_64))
            header = handle.read(len(_THRIFT_64))
            value = handle.read(DIGEST_LENGTH).decode("ascii", errors="replace")
            if header != _THRIFT_64 or len(value) != DIGEST_LENGTH:
                return None, "the footer around its digests is not as emoflow writes it"
            values.append(value)
    if values == [PLACEHOLDER, PLACEHOLDER]:
        return None, None
    return (values[0], values[1]), None


# -- Zarr stores -----------------------------------------------------------------------------
def _store_files(root: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Every metadata document's SHA-256 and every other file's size, by path in the store
    (``/``-separated); files Snakemake or emoflow add (hidden ones, the record) are not part."""
    documents: dict[str, str] = {}
    chunks: dict[str, int] = {}
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or (folder == str(root) and name == STORE_RECORD):
                continue
            full = Path(folder) / name
            relative = full.relative_to(root).as_posix()
            if name == "zarr.json":
                documents[relative] = sha256_file(full)
            else:
                chunks[relative] = full.stat().st_size
    return documents, chunks


def _record_digest(record: dict[str, Any]) -> str:
    body = {key: value for key, value in record.items() if key != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def seal_store(path: str | Path) -> str:
    """Write a finished Zarr store's integrity record (:data:`STORE_RECORD`) into its folder.

    Returns
    -------
    str
        The record's own SHA-256 (what :func:`check_store` returns).
    """
    root = Path(path)
    documents, chunks = _store_files(root)
    record: dict[str, Any] = {
        "format": STORE_RECORD_FORMAT,
        "algorithm": "sha256",
        "documents": documents,
        "chunk_sizes": chunks,
    }
    record["sha256"] = _record_digest(record)
    (root / STORE_RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return str(record["sha256"])


def check_store(path: str | Path, remedy: str) -> str | None:
    """Check a Zarr store against its integrity record before it is opened.

    Returns
    -------
    str or None
        The record's SHA-256, or ``None`` for a store without a record (earlier emoflow).

    Raises
    ------
    InputError
        Naming the store, the damaged file and ``remedy``.
    """
    root = Path(path)
    record_path = root / STORE_RECORD
    if not record_path.is_file():
        return None
    try:
        digest, problem = _store_problem(root, record_path)
    except OSError as err:
        raise InputError(root, f"damaged Zarr store: cannot be read ({err}); {remedy}") from err
    if problem is not None:
        raise InputError(root, f"damaged Zarr store: {problem}; {remedy}")
    return digest


def _store_problem(root: Path, record_path: Path) -> tuple[str | None, str | None]:
    """``(the record's digest, None)`` when the store matches its record, else
    ``(None, what is wrong)``."""
    try:
        record = json.loads(record_path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        reason = " ".join(str(err).split())
        return None, f"its integrity record {STORE_RECORD} is not valid JSON ({reason})"
    if not isinstance(record, dict) or record.get("format") != STORE_RECORD_FORMAT:
        return None, f"its integrity record {STORE_RECORD} is not one this emoflow writes"
    if record.get("sha256") != _record_digest(record):
        return None, f"its integrity record {STORE_RECORD} does not match its own SHA-256"
    documents, chunks = _store_files(root)
    expected_documents = record.get("documents") or {}
    expected_chunks = record.get("chunk_sizes") or {}
    for name, digest in sorted(expected_documents.items()):
        if name not in documents:
            return None, f"metadata document {name} is missing"
        if documents[name] != digest:
            return None, (
                f"metadata document {name} does not match the SHA-256 recorded when it was written"
            )
    for name, size in sorted(expected_chunks.items()):
        if name not in chunks:
            return None, f"chunk file {name} is missing"
        if chunks[name] != size:
            return None, f"chunk file {name} holds {chunks[name]} bytes, {size} when written"
    extra = sorted({*documents, *chunks} - {*expected_documents, *expected_chunks})
    if extra:
        return None, f"file {extra[0]} was not part of the store when it was written"
    return str(record["sha256"]), None
