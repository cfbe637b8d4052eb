"""Committed files are complete or absent, and a batch committed twice is one file."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from judgelm_ray.judge import commit
from support.faults import write_fails_past


def batch(rows: range, source: str = "in.jsonl") -> pa.Table:
    return pa.table({"id": [f"r{i}" for i in rows], "source": [source] * len(rows), "row": list(rows)})


def test_a_batch_is_one_file_named_by_its_rows_and_committing_it_again_replaces_it(tmp_path):
    first = commit.commit(batch(range(5)), str(tmp_path / "out"), str(tmp_path / "staging"))
    again = commit.commit(batch(range(5)), str(tmp_path / "out"), str(tmp_path / "staging"))
    other = commit.commit(batch(range(5, 9)), str(tmp_path / "out"), str(tmp_path / "staging"))
    assert first == again != other
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [first.rsplit("/", 1)[1], other.rsplit("/", 1)[1]])
    assert pq.read_table(first).to_pylist() == batch(range(5)).to_pylist()
    assert list((tmp_path / "staging").iterdir()) == []
    assert commit.commit(batch(range(0)), str(tmp_path / "out"), str(tmp_path / "staging")) is None


def test_the_same_row_numbers_of_another_file_are_another_part():
    assert commit.part_name(batch(range(3), "a.jsonl")) != commit.part_name(batch(range(3), "b.jsonl"))


def test_a_full_disk_leaves_neither_a_truncated_file_nor_a_temporary_one(tmp_path):
    setup = (
        "import os\nimport pyarrow as pa\nfrom judgelm_ray.judge import commit\n"
        "table = pa.table({'source': ['in.jsonl'] * 2000, 'row': list(range(2000)),"
        " 'text': [os.urandom(50).hex() for _ in range(2000)]})"
    )
    write = f"commit.commit(table, {str(tmp_path / 'out')!r}, {str(tmp_path / 'staging')!r})"
    assert write_fails_past(50_000, setup, write)
    assert list((tmp_path / "out").iterdir()) == [] and list((tmp_path / "staging").iterdir()) == []
