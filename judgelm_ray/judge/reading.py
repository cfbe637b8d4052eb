"""Reading the judge job's input on Ray Data: splits -> an id pass -> the rows pass.

The input is split into read tasks (``inputs.splits``) that run in parallel across the cluster,
each holding one split's bytes (about ``input.split_mb``) and ``input.block_rows`` parsed rows.

It is read twice:
1. The id pass parses every record but keeps only its own id (or null where the id is derived),
   its split and its row within the split: about 50 bytes a row in the object store, never whole
   rows. It gives each split's first row number (rows are numbered per file, so a split needs
   the count of the rows before it) and the duplicated ids (first occurrence kept, any scale).
2. The rows pass adapts every record again into a canonical row, skipping, unparsed, the rows an
   interrupted run already finished.
Parsing twice costs one extra JSON parse per row (a few µs); holding millions of rows instead
would cost memory that grows with the input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import ray

from judgelm_ray import inputs, storage
from judgelm_ray.inputs.files import id_prefix
from judgelm_ray.inputs.splits import Split, plan_splits, split_records
from judgelm_ray.spec import InputSpec

IDS_SCHEMA = pa.schema([("id", pa.string()), ("split", pa.int64()), ("row", pa.int64())])


@dataclass
class InputPlan:
    fs: pafs.FileSystem
    files: list[str]
    splits: list[Split]

    @property
    def root(self) -> str:
        return storage.common_root(self.files)


def plan_input(spec: InputSpec) -> InputPlan:
    fs, files = storage.list_input_files(spec.path)
    return InputPlan(fs, files, plan_splits(fs, files, spec.split_mb << 20))


def join_input(spec: InputSpec, folder: str) -> InputPlan:
    """For a format that joins several files (mtbench): its records, joined once into one JSONL file in
    `folder` (the run's `input/`), planned like any input. The join holds the records in memory: such
    sources (a benchmark's questions x model pairs) are small."""
    path = storage.join(folder, f"{spec.format}.jsonl")
    records = inputs.joined_records(spec.format, spec.path, spec.models, spec.pair_draw)
    storage.write_bytes(path, b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in records))
    return plan_input(spec.model_copy(update={"path": path}))


def _splits_dataset(plan: InputPlan, extra: list[dict] | None = None) -> ray.data.Dataset:
    items = [{**split.to_dict(), **(extra[i] if extra else {})} for i, split in enumerate(plan.splits)]
    # One block per split, so that each split is its own read task.
    return ray.data.from_items(items, override_num_blocks=max(1, len(items)))


def _read_ids(batch: pa.Table, fs: pafs.FileSystem, fmt: str, fields: dict | None) -> pa.Table:
    adapter = inputs.get_format(fmt, fields)
    ids, splits, rows = [], [], []
    for split in batch.to_pylist():
        split = Split(split["index"], split["path"], split["start"], split["end"])
        for row, record, _raw, _error in split_records(fs, split, flatten=getattr(adapter, "flatten", None)):
            ids.append(inputs.record_id(record, adapter, fields))
            splits.append(split.index)
            rows.append(row)
    return pa.table([ids, splits, rows], schema=IDS_SCHEMA)


def _count_by_split(batch: pa.Table) -> pa.Table:
    return batch.group_by("split").aggregate([("row", "count")])


@dataclass
class InputIds:
    first_rows: list[int]  # per split: its first row number within its file
    file_rows: dict[str, int]  # rows per input file
    first_seen: dict[str, tuple[str, int]]  # per duplicated id: (source, row) of its first occurrence

    @property
    def rows(self) -> int:
        return sum(self.file_rows.values())


def id_pass(plan: InputPlan, spec: InputSpec) -> InputIds:
    """Row numbers and duplicated ids of the whole input, holding only ids."""
    ids = _splits_dataset(plan).map_batches(
        _read_ids, batch_size=1, batch_format="pyarrow",
        fn_kwargs={"fs": plan.fs, "fmt": spec.format, "fields": spec.fields or None},
    ).materialize()
    counts = [0] * len(plan.splits)
    for partial in ids.map_batches(_count_by_split, batch_format="pyarrow").iter_rows():
        counts[partial["split"]] += partial["row_count"]
    first_rows, file_rows = [], dict.fromkeys(plan.files, 0)
    for split in plan.splits:
        first_rows.append(file_rows[split.path])
        file_rows[split.path] += counts[split.index]
    prefixes = [id_prefix(split.path, plan.root) for split in plan.splits]
    final = ids.map_batches(
        _final_ids, batch_format="pyarrow",
        fn_kwargs={"paths": [s.path for s in plan.splits], "prefixes": prefixes, "first_rows": first_rows},
    ).materialize()
    del ids  # frees its blocks: only one copy of the ids is held at a time
    return InputIds(first_rows, file_rows, find_duplicates(final, plan.files))


def _final_ids(batch: pa.Table, paths: list[str], prefixes: list[str], first_rows: list[int]) -> pa.Table:
    """(own id or null, split, row in split) -> (id, source, row in file), ids derived as the rows pass does."""
    split = batch.column("split").to_numpy()
    rows = batch.column("row").to_numpy() + np.asarray(first_rows, dtype=np.int64)[split]
    derived = [f"{prefixes[s]}:{r}" for s, r in zip(split.tolist(), rows.tolist())]
    ids = pc.coalesce(batch.column("id"), pa.array(derived, type=pa.string()))
    sources = pa.array(paths, type=pa.string()).take(pa.array(split))
    return pa.table({"id": ids, "source": sources, "row": rows})


# Up to this many rows the duplicated ids are found on the driver (about 100 bytes a row), where Ray
# Data's hash shuffle costs several seconds however small the input; above it, the shuffle keeps the
# driver's memory bounded at any scale.
DRIVER_DUPLICATE_ROWS = 200_000


def find_duplicates(ids: ray.data.Dataset, files: list[str]) -> dict[str, tuple[str, int]]:
    """First (source, row) of every id that occurs more than once; later occurrences are quarantined."""
    rows = ids.count()
    if rows == 0:
        return {}
    if rows <= DRIVER_DUPLICATE_ROWS:
        table = pa.concat_tables([ray.get(ref) for ref in ids.to_arrow_refs()])
        counts = pc.value_counts(table.column("id"))
        duplicated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
        occurrences = table.filter(pc.is_in(table["id"], value_set=duplicated)).to_pylist()
    else:
        # Few partitions: the ids are small, and Ray's default of 200 hash partitions costs more than the work.
        counts = ids.groupby("id", num_partitions=max(1, min(ids.num_blocks(), 16))).count()
        repeated = counts.map_batches(lambda t: t.filter(pc.greater(t["count()"], 1)), batch_format="pyarrow")
        duplicated = pa.array([r["id"] for r in repeated.take_all()], type=pa.string())
        if len(duplicated) == 0:
            return {}
        occurrences = ids.map_batches(
            lambda t: t.filter(pc.is_in(t["id"], value_set=duplicated)), batch_format="pyarrow"
        ).take_all()
    file_order = {path: i for i, path in enumerate(files)}
    first: dict[str, tuple[str, int]] = {}
    for r in sorted(occurrences, key=lambda r: (file_order.get(r["source"], len(files)), r["source"], r["row"])):
        first.setdefault(r["id"], (r["source"], r["row"]))
    return first


def rows_pass(
    plan: InputPlan, spec: InputSpec, first_rows: list[int], done: ray.ObjectRef | None
) -> ray.data.Dataset:
    """Canonical rows of every input record not already finished (`done`: {source: bool per row})."""
    extra = [{"first_row": row, "prefix": id_prefix(split.path, plan.root)} for row, split in zip(first_rows, plan.splits)]
    return _splits_dataset(plan, extra).map_batches(
        _read_rows, batch_size=1, batch_format="pyarrow",
        fn_kwargs={"fs": plan.fs, "spec": spec, "done": done},
    )


def _read_rows(batch: pa.Table, fs: pafs.FileSystem, spec: InputSpec, done: ray.ObjectRef | None) -> Iterator[pa.Table]:
    adapter = inputs.get_format(spec.format, spec.fields)
    finished = ray.get(done) if done is not None else {}
    for item in batch.to_pylist():
        split = Split(item["index"], item["path"], item["start"], item["end"])
        first, prefix = item["first_row"], item["prefix"]
        skip = None
        if split.path in finished:
            flags = finished[split.path]
            skip = lambda row: bool(flags[first + row])  # noqa: E731 - closes over this split's flags
        rows = []
        for row, record, raw, error in split_records(fs, split, skip, getattr(adapter, "flatten", None)):
            rows.append(inputs.adapt_record((first + row, record, raw, error), split.path, adapter, spec.fields or None, prefix))
            if len(rows) == spec.block_rows:
                yield inputs.rows_table(rows)
                rows = []
        if rows:
            yield inputs.rows_table(rows)
