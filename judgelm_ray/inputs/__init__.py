"""Input files -> canonical rows (``inputs.canonical``), one input format per module.

Every record of an input file becomes exactly one canonical row. A record that cannot be used is
not dropped and never raises: its row carries ``error`` = "<source> row <row>: field '<field>':
<what is wrong>" and ``raw`` = the original record text, so the judge job can quarantine it.
Only configuration mistakes (an unknown format, a malformed ``fields`` mapping) raise
``ValueError``, because they would spoil every row alike.

A format is a module with ``ID_KEY`` (the record key holding its id) and ``adapt(record) ->
(canonical values, meta)``, whose docstring documents the source format. A new format is one
file plus one line in ``FORMATS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from judgelm_ray import storage
from judgelm_ray.inputs import canonical, judgelm, llmbar, pandalm
from judgelm_ray.inputs.fields import RowError, apply_fields, check_fields, dumps, input_id
from judgelm_ray.inputs.files import id_prefix, records_with_raw, stem


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
}


def adapt_records(
    data: bytes,
    path: str,
    fmt: str,
    fields: dict[str, str | list[str]] | None = None,
    id_prefix: str | None = None,
) -> list[dict]:
    """Read a file and return one canonical row per record, broken records included.

    Derived ids are f"{id_prefix}:{row}", the prefix defaulting to the file name without
    extensions; they are unique within a file.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {tuple(FORMATS)}")
    check_fields(fields)
    adapter = FORMATS[fmt]
    prefix = id_prefix if id_prefix is not None else stem(path)
    rows = []
    for row, record, raw, error in records_with_raw(data, path):
        out = dict.fromkeys(canonical.COLUMNS)
        out.update(id=f"{prefix}:{row}", meta="{}", source=path, row=row, raw=raw)
        if record is not None:
            try:
                record = apply_fields(record, fields)
                out["id"] = input_id(record, adapter.ID_KEY) or out["id"]
                values, meta = adapter.adapt(record)
                out.update(values, meta=dumps(meta, sort_keys=True))
            except RowError as e:
                error = str(e)
        if error is not None:
            out["error"] = f"{path} row {row}: {error}"
        rows.append(out)
    return rows


def read_rows(path: str, fmt: str, fields: dict[str, str | list[str]] | None = None) -> Iterator[dict]:
    """Canonical rows of every input file under `path` (local or s3://), in file order, with the
    ids the judge job derives; one file is held in memory at a time."""
    fs, files = storage.list_input_files(path)
    root = storage.common_root(files)
    for file in files:
        with fs.open_input_file(file) as handle:
            data = handle.read()
        yield from adapt_records(data, file, fmt, fields or None, id_prefix(file, root))
