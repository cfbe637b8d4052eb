"""Committing results: each batch of judgments or quarantined rows becomes one Parquet file, all
or nothing, named by the rows it holds.

A file appears under its final name only once it is complete: locally it is written to the run's
staging folder and renamed (atomic on POSIX); on S3 the object appears only when its single PUT
completes. Serialising to memory first means a failure while encoding never touches storage, and
a failed write (a full disk) removes its temporary file. The name is a hash of the rows'
(source, row) keys, so a task that Ray retries after it had already committed rewrites the same
file instead of adding a second copy of its rows.

What is committed is what a resumed run skips (`resume.finished_rows`): a row is done exactly
when a committed file holds it.
"""

from __future__ import annotations

import hashlib
import os
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from judgelm_ray import storage
from judgelm_ray.judge.stages import quarantine_rows

PART_PREFIX = "part-"


def part_name(batch: pa.Table) -> str:
    keys = hashlib.sha256()
    for source, row in zip(batch.column("source").to_pylist(), batch.column("row").to_pylist()):
        keys.update(f"{source}\0{row}\n".encode("utf-8"))
    return f"{PART_PREFIX}{keys.hexdigest()[:24]}.parquet"


def commit(batch: pa.Table, folder: str, staging: str) -> str | None:
    """Write `batch` as one file in `folder` (nothing for an empty batch); returns its path."""
    if batch.num_rows == 0:
        return None
    buffer = pa.BufferOutputStream()
    pq.write_table(batch, buffer)
    data = buffer.getvalue()
    target = storage.join(folder, part_name(batch))
    if storage.is_remote(folder):
        storage.write_bytes(target, data.to_pybytes())
        return target
    os.makedirs(folder, exist_ok=True)
    os.makedirs(staging, exist_ok=True)
    temporary = os.path.join(staging, f"{os.path.basename(target)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        _remove(temporary)
        raise
    return target


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def commit_quarantined(batch: pa.Table, folder: str, staging: str) -> pa.Table:
    """Commit the quarantined rows of a prepared batch; pass on the rows to judge."""
    quarantined = pc.is_valid(batch.column("quarantine_reason"))
    commit(quarantine_rows(batch.filter(quarantined)), folder, staging)
    return batch.filter(pc.invert(quarantined))


def commit_judgments(batch: pa.Table, folder: str, staging: str) -> pa.Table:
    """Commit a batch of judgments; returns how many rows it held."""
    commit(batch, folder, staging)
    return pa.table({"committed": [batch.num_rows]})
