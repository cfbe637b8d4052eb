"""Input files -> records: JSON lines, JSON lists and Parquet, optionally gzipped, and derived ids.

Reading (``read_records``), by extension, optionally ``.gz``:
- ``.jsonl``: one JSON value per line; blank lines are skipped and not counted in ``row``.
- ``.json``: a JSON list; ``row`` is the element index. A document that does not parse is
  retried as JSON lines when its first non-blank line is a JSON object (JSON lines saved as
  .json); otherwise, as for a top-level value that is not a list, the file yields a single
  "invalid JSON file" error row.
- ``.parquet``: table rows as Python dicts.
For JSON lines ``raw`` is the line exactly as in the file; otherwise the record re-serialised.

Ids: the input id (strings kept, integers stringified) or, when absent/null/blank,
f"{id_prefix}:{row}" with id_prefix the file's path under the input root without extension
(``id_prefix``), or the file name without extensions when a single file is read on its own.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from judgelm_ray.inputs.fields import dumps, kind
from judgelm_ray.storage import INPUT_EXTENSIONS

RAW_LIMIT = 100_000


# (row, parsed value or None, source text or None, error or None)
RecordTuple = tuple[int, Any, "str | None", "str | None"]


def read_records(data: bytes, path: str) -> Iterator[tuple[int, dict | None, str | None]]:
    """Yield (row, record, None) per record, or (row, None, reason) where it cannot be read."""
    for row, record, _raw, error in records_with_raw(data, path):
        yield row, record, error


# A format's `flatten`: a .json file's whole value -> its list of records (EvalBiasBench's file is one object
# of bias category -> pairs); ValueError when the value has another shape.
Flatten = Callable[[Any], list]


def records_with_raw(data: bytes, path: str, flatten: Flatten | None = None) -> Iterator[tuple[int, dict | None, str, str | None]]:
    """Like read_records, plus the record's raw text (truncated) for quarantine."""
    return with_raw(_parse(data, path, flatten))


def with_raw(items: Iterable[RecordTuple]) -> Iterator[tuple[int, dict | None, str, str | None]]:
    """Parsed values -> records (objects only) with their raw text, truncated to RAW_LIMIT."""
    for row, value, text, error in items:
        if error is None and not isinstance(value, dict):
            error = f"expected a JSON object, got {kind(value)}"
        raw = text if text is not None else _raw_text(value)
        yield row, value if error is None else None, raw[:RAW_LIMIT], error


def _raw_text(value: Any) -> str:
    try:
        return dumps(value)
    except (ValueError, RecursionError) as e:  # a value Python parsed but cannot write back
        return f"<not shown: {e}>"


def _parse(data: bytes, path: str, flatten: Flatten | None = None) -> Iterator[RecordTuple]:
    name = path.lower()
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            yield 0, None, "", f"invalid gzip file: {e}"
            return
        name = name[:-3]
    if name.endswith(".jsonl"):
        yield from json_lines(data)
    elif name.endswith(".json"):
        yield from json_document(data, flatten)
    elif name.endswith(".parquet"):
        yield from _parquet(data)
    else:
        yield 0, None, "", "unsupported file type; expected .jsonl, .json or .parquet (optionally .gz)"


def nonblank_lines(data: bytes) -> list[bytes]:
    """The lines that count as rows: every line but blank ones (\\n, \\r\\n and \\r end a line)."""
    return [line for line in data.splitlines() if line.strip()]


def json_lines(data: bytes, skip: Callable[[int], bool] | None = None, first_row: int = 0) -> Iterator[RecordTuple]:
    """One value per non-blank line; `skip(row)` true: counted, not parsed, not yielded."""
    for row, line in enumerate(nonblank_lines(data), first_row):
        if skip is None or not skip(row):
            yield json_line(row, line)


def json_line(row: int, line: bytes) -> RecordTuple:
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return row, None, line.decode("utf-8", "replace"), f"invalid JSON: not UTF-8 text ({e})"
    try:
        return row, json.loads(text), text, None
    except ValueError as e:  # bad JSON, or an integer longer than Python converts (4300 digits)
        return row, None, text, f"invalid JSON: {e}"
    except RecursionError:
        return row, None, text, "invalid JSON: nested too deeply to read (over ~1000 levels)"


def json_document(data: bytes, flatten: Flatten | None = None) -> Iterator[RecordTuple]:
    # raw for a file-level error: enough bytes for RAW_LIMIT chars of up to 4 UTF-8 bytes each
    whole_text = data[:RAW_LIMIT * 4].decode("utf-8", "replace")
    try:
        value = json.loads(data)  # bytes: json detects UTF-8/16/32 and a BOM
    except (ValueError, RecursionError) as e:
        lines = list(json_lines(data))
        if lines and isinstance(lines[0][1], dict):
            yield from lines
        else:
            what = "nested too deeply to read" if isinstance(e, RecursionError) else e
            yield 0, None, whole_text, f"invalid JSON file: {what}"
        return
    if flatten is not None and not isinstance(value, list):
        try:
            value = flatten(value)
        except ValueError as e:
            yield 0, None, whole_text, f"invalid JSON file: {e}"
            return
    if not isinstance(value, list):
        yield 0, None, whole_text, f"invalid JSON file: expected a list of objects, got {kind(value)}"
        return
    for row, item in enumerate(value):
        yield row, item, None, None


def _parquet(data: bytes) -> Iterator[RecordTuple]:
    try:
        rows = pq.read_table(pa.BufferReader(data)).to_pylist()
    except (pa.ArrowException, OSError, ValueError) as e:
        yield 0, None, "", f"invalid Parquet file: {e}"
        return
    for row, item in enumerate(rows):
        yield row, item, None, None


def id_prefix(path: str, root: str) -> str:
    """Prefix of derived ids: the file's path under the input root, without extension.

    Relative to the root (not the bare file name) so two `data.jsonl` in different folders of one
    input do not derive the same ids.
    """
    relative = os.path.relpath(path, root) if root else os.path.basename(path)
    for ext in sorted(INPUT_EXTENSIONS, key=len, reverse=True):
        if relative.lower().endswith(ext):
            return relative[: -len(ext)]
    return relative


def stem(path: str) -> str:
    """The file name without its extensions (".jsonl.gz" included)."""
    name = PurePosixPath(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return PurePosixPath(name).stem
