"""Input files -> canonical rows (``inputs.canonical``), one input format per module.

Every record of an input file becomes exactly one canonical row. A record that cannot be used is
not dropped and never raises: its row carries ``error`` = "<source> row <row>: field '<field>':
<what is wrong>" and ``raw`` = the original record text, so the judge job can quarantine it.
Only configuration mistakes (an unknown format, a malformed ``fields`` mapping) raise
``ValueError``, because they would spoil every row alike.

A format is a module with ``ID_KEY`` (the record key holding its id) and ``adapt(record) ->
(canonical values, meta)``, whose docstring documents the source format. A format whose records
join several files (FastChat's MT-bench folder, JudgeLM's per-model answers) also has
``join(read_text, list_dir, folder, models, pairs)``, which yields the joined records
(`joined_records`); one whose .json file is not a list has ``flatten(value) -> records``
(`files.Flatten`). A new format is one file plus one line in ``FORMATS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import pyarrow as pa
import pyarrow.fs as pafs

from judgelm_ray import storage
from judgelm_ray.inputs import (
    canonical,
    dialogue,
    evalbiasbench,
    judgelm,
    judgelm_answers,
    llmbar,
    mmvet,
    mtbench,
    pandalm,
    preference,
    prometheus,
)
from judgelm_ray.inputs.fields import RowError, apply_fields, check_fields, dumps, input_id, is_utf8
from judgelm_ray.inputs.files import id_prefix, records_with_raw, stem
from judgelm_ray.inputs.splits import plan_splits, split_records

# Pieces of plain JSONL read one after another here (the judge job reads them in parallel).
SPLIT_BYTES = 64 << 20


class Format(Protocol):
    ID_KEY: str

    def adapt(self, record: dict) -> tuple[dict, dict]:
        """A record (after `input.fields`) -> (canonical values, meta); raises RowError naming the field."""
        ...


FORMATS: dict[str, Format] = {
    "canonical": canonical,
    "judgelm": judgelm,
    "pandalm": pandalm,
    "llmbar": llmbar,
    "mtbench": mtbench,
    "prometheus": prometheus,
    "preference": preference,
    "evalbiasbench": evalbiasbench,
    "mmvet": mmvet,
    "judgelm-answers": judgelm_answers,
}


def adapt_records(
    data: bytes,
    path: str,
    fmt: str,
    fields: dict[str, str | list[str]] | None = None,
    id_prefix: str | None = None,
) -> list[dict]:
    """Read a whole file and return one canonical row per record, broken records included.

    Derived ids are f"{id_prefix}:{row}", the prefix defaulting to the file name without
    extensions; they are unique within a file.
    """
    adapter = get_format(fmt, fields)
    prefix = id_prefix if id_prefix is not None else stem(path)
    items = records_with_raw(data, path, getattr(adapter, "flatten", None))
    return [adapt_record(item, path, adapter, fields or None, prefix) for item in items]


def joins(fmt: str) -> bool:
    """Whether `fmt` reads a folder of files it joins into records, rather than records from files."""
    return hasattr(FORMATS.get(fmt), "join")


def joined_records(
    fmt: str, path: str, models: list[str] | None = None, pairs: tuple[int | None, int] | None = None
) -> Iterator[dict]:
    """The records a joining format makes of the folder `path` (local or s3://): of `models` (None: all),
    `pairs` = (per_question, seed) model pairs drawn per question (None: all pairs; `pairing.pick_pairs`)."""
    fs, folder = storage.filesystem_for(path)

    def read_text(file: str) -> str:
        with fs.open_input_stream(storage.filesystem_for(file)[1]) as stream:
            # A bad byte spoils the lines holding it (the join reports them), not the whole folder.
            return stream.read().decode("utf-8", errors="replace")

    def list_dir(sub: str) -> list[str]:
        found = fs.get_file_info(pafs.FileSelector(storage.filesystem_for(sub)[1], allow_not_found=True))
        return sorted(info.base_name for info in found if info.is_file)

    return FORMATS[fmt].join(read_text, list_dir, path.rstrip("/"), models, pairs)


def get_format(fmt: str, fields: dict[str, str | list[str]] | None) -> Format:
    """The adapter of `fmt`, after checking the configuration every row shares."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {tuple(FORMATS)}")
    check_fields(fields)
    return FORMATS[fmt]


def record_id(record: dict | None, adapter: Format, fields: dict[str, str | list[str]] | None) -> str | None:
    """The id a record gives itself, or None where the row's id is derived (no id, or a broken record)."""
    if record is None:
        return None
    try:
        return input_id(apply_fields(record, fields), adapter.ID_KEY)
    except RowError:
        return None


def adapt_record(
    item: tuple[int, dict | None, str, str | None],
    path: str,
    adapter: Format,
    fields: dict[str, str | list[str]] | None,
    prefix: str,
) -> dict:
    """(row, record, raw, error) of one input record -> its canonical row."""
    row, record, raw, error = item
    out = dict.fromkeys(canonical.COLUMNS)
    out.update(id=f"{prefix}:{row}", meta="{}", source=path, row=row, raw=raw)
    if record is not None:
        try:
            record = apply_fields(record, fields)
            out["id"] = input_id(record, adapter.ID_KEY) or out["id"]
            values, meta = adapter.adapt(record)
            # Every format's dialogue is checked alike: roles in order, per-answer turns that continue it.
            dialogue.check_row(values.get("turns"), values.get("answer_turns"), len(values["answers"]),
                               values.get("reference_turns"))
            out.update(values, meta=dumps(meta, sort_keys=True))
        except RowError as e:
            error = str(e)
        except (ValueError, RecursionError) as e:  # meta Python read but cannot write as JSON
            error = f"field 'meta': cannot be kept as JSON ({e})"
    if error is not None:
        out["error"] = f"{path} row {row}: {error}"
    return out


def rows_table(rows: list[dict]) -> pa.Table:
    """Canonical rows as a table. A row holding text Arrow cannot store (a lone surrogate such as
    "\\ud800", which JSON allows and UTF-8 does not) becomes an error row naming the field."""
    try:
        return pa.Table.from_pylist(rows, schema=canonical.SCHEMA)
    except (UnicodeEncodeError, pa.ArrowException):
        return pa.Table.from_pylist([_storable(row) for row in rows], schema=canonical.SCHEMA)


def _storable(row: dict) -> dict:
    for key, value in row.items():
        if any(not is_utf8(t) for t in _texts(value)):
            out = dict.fromkeys(canonical.COLUMNS)
            out.update(id=row["id"], meta="{}", source=row["source"], row=row["row"],
                       raw=row["raw"].encode("utf-8", "backslashreplace").decode("utf-8"))
            out["error"] = (f"{row['source']} row {row['row']}: field '{key}': text with a lone surrogate "
                            "(an unpaired \\ud800-\\udfff escape); fix the escape or drop the character")
            return out
    return row


def _texts(value) -> Iterator[str]:
    """Every string in a row's value: answers, dialogue turns' contents, per-answer turns."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        yield from _texts(list(value.values()))


def read_rows(
    path: str,
    fmt: str,
    fields: dict[str, str | list[str]] | None = None,
    models: list[str] | None = None,
    pairs: tuple[int | None, int] | None = None,
) -> Iterator[dict]:
    """Canonical rows of every input file under `path` (local or s3://), in file order, with the
    ids the judge job derives; read in the judge job's splits, so memory stays bounded."""
    adapter = get_format(fmt, fields)
    if joins(fmt):
        for row, record in enumerate(joined_records(fmt, path, models, pairs)):
            raw = dumps(record)
            yield adapt_record((row, record, raw, None), path, adapter, fields or None, stem(path))
        return
    fs, files = storage.list_input_files(path)
    root = storage.common_root(files)
    for file in files:
        prefix, first = id_prefix(file, root), 0
        for split in plan_splits(fs, [file], SPLIT_BYTES):
            row = -1
            for row, *rest in split_records(fs, split, flatten=getattr(adapter, "flatten", None)):
                yield adapt_record((first + row, *rest), file, adapter, fields or None, prefix)
            first += row + 1  # a split's rows are numbered 0..n-1, error rows included
