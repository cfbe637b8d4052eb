"""The read tasks of the judge job without Ray: ids per split, file-global rows and derived ids."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.fs as pafs

from judgelm_ray.inputs import adapt_records
from judgelm_ray.inputs.splits import plan_splits
from judgelm_ray.judge import reading
from judgelm_ray.spec import InputSpec


def test_split_reads_give_the_ids_rows_and_canonical_rows_of_the_whole_file(tmp_path):
    records = [{"id": "own", "question": "q", "answers": ["a", "b"]}] + [
        {"question": f"q{i}", "answers": ["a", "b"]} for i in range(40)]
    path = tmp_path / "data" / "in.jsonl"
    path.parent.mkdir()
    data = ("\n".join(json.dumps(r) for r in records) + "\n").encode()
    path.write_bytes(data)
    fs = pafs.LocalFileSystem()
    splits = plan_splits(fs, [str(path)], 300)
    assert len(splits) > 3
    batch = pa.Table.from_pylist([s.to_dict() for s in splits])
    ids = reading._read_ids(batch, fs, "canonical", None)
    counts = {r["split"]: r["row_count"] for r in reading._count_by_split(ids).to_pylist()}
    first_rows = [sum(counts.get(i, 0) for i in range(s.index)) for s in splits]
    final = reading._final_ids(ids, [s.path for s in splits], ["in"] * len(splits), first_rows).to_pylist()
    whole = adapt_records(data, str(path), "canonical", id_prefix="in")
    assert [(r["id"], r["row"]) for r in final] == [(r["id"], r["row"]) for r in whole]
    assert final[0]["id"] == "own" and final[1]["id"] == "in:1"

    extra = [{**s.to_dict(), "first_row": f, "prefix": "in"} for s, f in zip(splits, first_rows)]
    spec = InputSpec(path=str(path), block_rows=7)
    blocks = list(reading._read_rows(pa.Table.from_pylist(extra), fs, spec, None))
    assert max(b.num_rows for b in blocks) <= 7
    assert pa.concat_tables(blocks).to_pylist() == whole
