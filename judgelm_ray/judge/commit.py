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
import threading
import time
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from judgelm_ray import progress, runlog, storage
from judgelm_ray.judge.stages import quarantine_rows, quarantine_unanswered

PART_PREFIX = "part-"


def part_name(batch: pa.Table) -> str:
    keys = hashlib.sha256()
    for source, row in zip(batch.column("source").to_pylist(), batch.column("row").to_pylist()):
        keys.update(f"{source}\0{row}\n".encode("utf-8"))
    return f"{PART_PREFIX}{keys.hexdigest()[:24]}.parquet"


def commit(batch: pa.Table, folder: str, staging: str, tally=None) -> str | None:
    """Write `batch` as one file in `folder` (nothing for an empty batch); returns its path."""
    if batch.num_rows == 0:
        return None
    buffer = pa.BufferOutputStream()
    pq.write_table(batch, buffer)
    data = buffer.getvalue()
    target = storage.join(folder, part_name(batch))
    if storage.is_remote(folder):
        _write_remote(target, data.to_pybytes(), tally)
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


# How long a commit keeps retrying an object store that does not answer before the run fails
# (Ray Data does not retry a task that raised), and the longest wait between two tries.
REMOTE_RETRY_SECONDS = 600.0
REMOTE_RETRY_WAIT = 30.0


# A write that has not finished after this many seconds is reported (the store may hang rather than fail).
SLOW_WRITE_SECONDS = 10.0


def _write_remote(target: str, data: bytes, tally) -> None:
    """One PUT, retried with growing waits while the store does not answer (an S3 outage), so a run
    survives minutes of it. A store that fails and one that hangs are both shown to the person
    watching: the run is waiting, not stuck."""
    scheme = target.split("://", 1)[0]
    written = threading.Event()

    def report_while_hanging() -> None:
        waited = 0.0
        while not written.wait(SLOW_WRITE_SECONDS):
            waited += SLOW_WRITE_SECONDS
            progress.event(tally, f"{scheme}:// not answering (a write of results waits for {waited:.0f} s); still trying")

    threading.Thread(target=report_while_hanging, daemon=True).start()
    deadline, wait = time.monotonic() + REMOTE_RETRY_SECONDS, 1.0
    try:
        while True:
            try:
                storage.write_bytes(target, data)
                return
            except OSError as error:
                if not _store_unreachable(error) or time.monotonic() + wait > deadline:
                    raise
                progress.event(tally, f"{scheme}:// not answering ({runlog.one_line(error)[:160]}); writing results again, "
                                      f"for up to {REMOTE_RETRY_SECONDS / 60:.0f} min")
                time.sleep(wait)
                wait = min(2 * wait, REMOTE_RETRY_WAIT)
    finally:
        written.set()


# What the AWS SDK (under pyarrow) says when a store does not answer or asks to wait; anything
# else (access denied, no such bucket) will not mend by waiting.
_UNREACHABLE = ("NETWORK_CONNECTION", "curlCode", "Timeout", "timed out", "Connection refused",
                "SERVICE_UNAVAILABLE", "SLOW_DOWN", "INTERNAL_FAILURE")


def _store_unreachable(error: OSError) -> bool:
    return any(marker in str(error) for marker in _UNREACHABLE)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def commit_quarantined(batch: pa.Table, folder: str, staging: str, tally=None) -> pa.Table:
    """Commit the quarantined rows of a prepared batch; pass on the rows to judge."""
    quarantined = pc.is_valid(batch.column("quarantine_reason"))
    rows = quarantine_rows(batch.filter(quarantined))
    commit(rows, folder, staging, tally)
    progress.add(tally, quarantined=rows.num_rows)
    return batch.filter(pc.invert(quarantined))


def commit_unanswered(batch: pa.Table, folder: str, staging: str, tally=None) -> pa.Table:
    """After the engine: commit the rows it could not answer as quarantined; pass on the answered ones."""
    return commit_quarantined(quarantine_unanswered(batch), folder, staging, tally)


def commit_judgments(batch: pa.Table, folder: str, staging: str, tally=None) -> pa.Table:
    """Commit a batch of judgments; returns how many rows it held."""
    commit(batch, folder, staging, tally)
    progress.add(tally, judged=batch.num_rows, parse_failures=batch.num_rows - batch.column("parse_error").null_count)
    return pa.table({"committed": [batch.num_rows]})
