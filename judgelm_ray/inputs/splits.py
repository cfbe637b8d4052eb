"""Input files -> splits (one read task each) -> records, so that no task holds a whole large file.

How each kind of file is split, the way Hadoop and Spark split text input:
- plain ``.jsonl``: byte ranges of about ``split_bytes``. A line belongs to the split its first
  byte lies in: a split that starts inside a line skips to the next ``\\n`` and the split that
  holds a line's first byte reads on past its end until the line is complete. Splitting at
  ``\\n`` keeps ``\\r\\n`` and multi-byte UTF-8 characters whole; each ``\\n``-line is then split
  like ``bytes.splitlines`` (``\\r`` too), so rows are exactly what reading the whole file gives.
- ``.parquet``: one split per row group.
- gzip (``.jsonl.gz``, ``.json.gz``): gzip cannot be split (a position in the compressed stream
  is not a place to start decompressing), so one split per file, decompressed as a stream.
- ``.json``: a JSON list is one document: one split, parsed whole, and refused above
  ``JSON_LIMIT`` bytes with a message that says to convert it to JSON lines.

Rows are numbered per file, as when the whole file is read: a split numbers its own records from
0 and the reader adds the split's ``first_row`` (known from the id pass of the judge job).
A file that cannot be opened or read to its end yields one error row where reading stopped, so a
bad file is quarantined, never fatal.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from judgelm_ray.inputs.files import (
    Flatten,
    RecordTuple,
    json_document,
    json_line,
    json_lines,
    nonblank_lines,
    with_raw,
)

# Parsing a .json list needs it whole: past this size, JSON lines are the answer.
JSON_LIMIT = 256 << 20
# Read-ahead step when a split's last line runs past its end, and the size of the pieces gzip is
# decompressed in.
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Split:
    index: int  # position in the run's list of splits (file order, then position in the file)
    path: str
    start: int = 0  # plain JSONL: first byte; Parquet: row group
    end: int | None = None  # plain JSONL: byte after the range; None: to the end of the file

    def to_dict(self) -> dict:
        return asdict(self)


def _kind(path: str) -> str:
    name = path.lower()
    if name.endswith(".gz"):
        return "gzip-" + _kind(name[:-3])
    for ext in ("jsonl", "json", "parquet"):
        if name.endswith("." + ext):
            return ext
    return "unknown"


def plan_splits(fs: pafs.FileSystem, files: list[str], split_bytes: int) -> list[Split]:
    """The read tasks for `files`, in file order; cheap: it reads sizes and Parquet footers only."""
    splits: list[Split] = []
    for path in files:
        kind = _kind(path)
        pieces: list[tuple[int, int | None]] = [(0, None)]
        if kind == "jsonl":
            size = fs.get_file_info(path).size or 0
            pieces = [(start, min(start + split_bytes, size)) for start in range(0, size, split_bytes)] or pieces
        elif kind == "parquet":
            try:
                with fs.open_input_file(path) as handle:
                    groups = pq.ParquetFile(handle).metadata.num_row_groups
                pieces = [(group, None) for group in range(groups)] or pieces
            except (pa.ArrowException, OSError, ValueError):
                pass  # reading the split reports the file as invalid
        splits.extend(Split(len(splits), path, start, end) for start, end in pieces)
    return splits


def split_records(
    fs: pafs.FileSystem, split: Split, skip: Callable[[int], bool] | None = None, flatten: Flatten | None = None
) -> Iterator[tuple[int, dict | None, str, str | None]]:
    """(row, record or None, raw text, error or None) for every record of a split, rows counted
    from the split's first record.

    `skip(row)` true: the record is counted but neither parsed nor yielded (rows an interrupted
    run already finished). Reading errors end the split with one error row, never raise.
    `flatten`: the format's, for a .json file that is not a list (`files.Flatten`).
    """
    row = -1
    try:
        for item in with_raw(_values(fs, split, skip or _keep_all, flatten)):
            row = item[0]
            yield item
    except OSError as error:  # a file that vanished, cannot be opened or stops being readable
        yield row + 1, None, "", f"cannot read the file: {error}"


def _keep_all(row: int) -> bool:
    return False


def _values(fs: pafs.FileSystem, split: Split, skip: Callable[[int], bool], flatten: Flatten | None) -> Iterator[RecordTuple]:
    kind = _kind(split.path)
    if kind == "jsonl":
        return json_lines(_line_range(fs, split), skip)
    if kind == "gzip-jsonl":
        return _gzip_lines(fs, split.path, skip)
    if kind in ("json", "gzip-json"):
        return _json_file(fs, split.path, kind == "gzip-json", skip, flatten)
    if kind == "parquet":
        return _parquet_group(fs, split, skip)
    return iter([(0, None, "", "unsupported file type; expected .jsonl, .json or .parquet (optionally .gz)")])


def _line_range(fs: pafs.FileSystem, split: Split) -> bytes:
    """The bytes of the lines whose first byte lies in [start, end)."""
    with fs.open_input_file(split.path) as handle:
        size = handle.size()
        end = size if split.end is None else split.end
        begin = split.start
        if begin > 0:
            # A line starts after a "\n": look from start - 1, so that a split beginning exactly
            # at a line start keeps that line.
            handle.seek(begin - 1)
            while True:
                chunk = handle.read(_CHUNK)
                if not chunk:
                    return b""
                newline = chunk.find(b"\n")
                if newline >= 0:
                    begin = handle.tell() - len(chunk) + newline + 1
                    break
        if begin >= end:
            return b""
        handle.seek(begin)
        pieces = [handle.read(end - begin)]
        # Finish the last line, however far past `end` it runs.
        while not pieces[-1].endswith(b"\n") and handle.tell() < size:
            chunk = handle.read(_CHUNK)
            newline = chunk.find(b"\n")
            pieces.append(chunk if newline < 0 else chunk[: newline + 1])
        return b"".join(pieces)


def _gzip_lines(fs: pafs.FileSystem, path: str, skip: Callable[[int], bool]) -> Iterator[RecordTuple]:
    """Decompress as a stream, about _CHUNK bytes of lines at a time; a corrupt or truncated
    stream keeps the rows before the break and ends with one error row there. (compression=None:
    pyarrow would otherwise decompress by extension itself, and a broken file fail inside it.)"""
    row, chunk, size, error = 0, [], 0, None
    with fs.open_input_stream(path, compression=None) as raw, gzip.GzipFile(fileobj=raw) as stream:
        lines = iter(stream)
        while True:
            try:
                line = next(lines, None)
            except (OSError, EOFError, zlib.error) as e:
                line, error = None, f"invalid gzip file: {e}"
            if line is not None:
                chunk.append(line)
                size += len(line)
                if size < _CHUNK:
                    continue
            # GzipFile ends lines at "\n" only: rejoin and split as the whole file would be.
            rows = nonblank_lines(b"".join(chunk))
            for local, text in enumerate(rows, row):
                if not skip(local):
                    yield json_line(local, text)
            row, chunk, size = row + len(rows), [], 0
            if line is None:
                break
    if error is not None:
        yield row, None, "", error


def _json_file(
    fs: pafs.FileSystem, path: str, gzipped: bool, skip: Callable[[int], bool], flatten: Flatten | None
) -> Iterator[RecordTuple]:
    with fs.open_input_stream(path, compression=None) as raw:
        if gzipped:
            try:
                with gzip.GzipFile(fileobj=raw) as stream:
                    data = stream.read(JSON_LIMIT + 1)
            except (OSError, EOFError, zlib.error) as error:
                yield 0, None, "", f"invalid gzip file: {error}"
                return
        else:
            data = raw.read(JSON_LIMIT + 1)
    if len(data) > JSON_LIMIT:
        yield 0, None, "", (
            f"a .json file over {JSON_LIMIT >> 20} MiB is one document that must be parsed whole; "
            "convert it to JSON lines (.jsonl, one object per line), which is read in parallel pieces"
        )
        return
    for item in json_document(data, flatten):
        if not skip(item[0]):
            yield item


def _parquet_group(fs: pafs.FileSystem, split: Split, skip: Callable[[int], bool]) -> Iterator[RecordTuple]:
    row = 0
    with fs.open_input_file(split.path) as handle:
        try:
            parquet = pq.ParquetFile(handle)
            if split.start >= parquet.metadata.num_row_groups:
                return
            for batch in parquet.iter_batches(row_groups=[split.start], batch_size=4096):
                for record in batch.to_pylist():
                    if not skip(row):
                        yield row, record, None, None
                    row += 1
        except (pa.ArrowException, ValueError) as error:
            yield row, None, "", f"invalid Parquet file: {error}"
