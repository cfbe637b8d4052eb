"""Reading in splits gives exactly the rows that reading the whole file gives, at any split size."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from judgelm_ray.inputs import splits
from judgelm_ray.inputs.files import records_with_raw
from judgelm_ray.inputs.splits import Split, plan_splits, split_records

FS = pafs.LocalFileSystem()


def whole(path) -> list[tuple]:
    return list(records_with_raw(path.read_bytes(), str(path)))


def in_splits(path, split_bytes: int) -> list[tuple]:
    """All records over every split of the file, rows made file-global as the judge job does."""
    out = []
    for split in plan_splits(FS, [str(path)], split_bytes):
        first = out[-1][0] + 1 if out else 0
        out.extend((first + row, *rest) for row, *rest in split_records(FS, split))
    return out


def record(i: int, text: str = "x") -> bytes:
    return json.dumps({"question": f"{text} {i}", "answers": ["a", "b"]}, ensure_ascii=False).encode()


CASES = {
    "plain": b"\n".join(record(i) for i in range(5)) + b"\n",
    "crlf": b"\r\n".join(record(i) for i in range(5)) + b"\r\n",
    "blank lines": b"\n\n" + record(0) + b"\n   \n\n" + record(1) + b"\n\t\n" + record(2) + b"\n\n",
    "bom": b"\xef\xbb\xbf" + record(0) + b"\n" + record(1) + b"\n",
    "no final newline": record(0) + b"\n" + record(1),
    "lone cr": record(0) + b"\r" + record(1) + b"\n" + record(2),
    "multi-byte characters": b"\n".join(record(i, "日本語のテキスト é ü 🙂") for i in range(4)) + b"\n",
    "one huge line": record(0) + b"\n" + record(1, "y" * 5000) + b"\n" + record(2) + b"\n",
    "broken lines": record(0) + b"\n{broken\n\xff\xfe\n" + record(1) + b"\n",
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_split_size_gives_the_rows_of_the_whole_file(tmp_path, name):
    path = tmp_path / "in.jsonl"
    path.write_bytes(CASES[name])
    expected = whole(path)
    assert expected, "the case must have rows"
    size = len(CASES[name])
    # Every size up to the whole file: split points land on every byte, inside "\r\n" and inside
    # multi-byte characters included.
    for split_bytes in sorted({*range(1, min(size, 300) + 1), size // 3 + 1, size, size + 10}):
        assert in_splits(path, split_bytes) == expected, f"split_bytes={split_bytes}"


def test_a_large_jsonl_is_planned_as_byte_ranges_and_other_files_whole(tmp_path):
    (tmp_path / "big.jsonl").write_bytes(b"\n".join(record(i) for i in range(100)))
    (tmp_path / "doc.json").write_text(json.dumps([{"question": "q", "answers": ["a", "b"]}]))
    (tmp_path / "rows.jsonl.gz").write_bytes(gzip.compress(record(0)))
    files = sorted(str(p) for p in tmp_path.iterdir())
    planned = plan_splits(FS, files, 1000)
    big = [s for s in planned if s.path.endswith("big.jsonl")]
    assert len(big) == -(-(tmp_path / "big.jsonl").stat().st_size // 1000)
    assert [(s.start, s.end) for s in big][:2] == [(0, 1000), (1000, 2000)]
    assert [s.index for s in planned] == list(range(len(planned)))
    assert [(s.start, s.end) for s in planned if not s.path.endswith("big.jsonl")] == [(0, None), (0, None)]


def test_parquet_is_split_by_row_group(tmp_path):
    rows = [{"question": f"q{i}", "answers": ["a", "b"]} for i in range(10)]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=3)
    planned = plan_splits(FS, [str(path)], 1 << 20)
    assert [s.start for s in planned] == [0, 1, 2, 3]
    assert in_splits(path, 1 << 20) == whole(path)


def test_gzip_is_streamed_with_the_rows_of_the_whole_file(tmp_path, monkeypatch):
    monkeypatch.setattr(splits, "_CHUNK", 64)  # many decompressed pieces, each ending mid-file
    data = CASES["crlf"] + CASES["blank lines"] + CASES["lone cr"]
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(data))
    assert in_splits(path, 10) == whole(path)
    assert len(whole(path)) == 11


@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_a_truncated_gzip_keeps_the_rows_before_the_break_and_ends_with_an_error_row(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(splits, "_CHUNK", chunk)
    data = gzip.compress(b"\n".join(record(i) for i in range(2000)))
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    rows = in_splits(path, 1 << 20)
    *good, last = rows
    assert good and all(error is None for *_, error in good)
    assert [r[0] for r in rows] == list(range(len(rows)))
    assert last[3].startswith("invalid gzip file:")


@pytest.mark.parametrize("name", ["in.jsonl.gz", "in.json.gz"])
def test_a_file_named_gz_that_is_not_gzip_is_one_error_row(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(record(0))
    [(row, value, _raw, error)] = in_splits(path, 1 << 20)
    assert (row, value) == (0, None) and error.startswith("invalid gzip file:")


def test_a_json_list_over_the_limit_is_refused_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(splits, "JSON_LIMIT", 100)
    path = tmp_path / "in.json"
    path.write_text(json.dumps([{"question": "q" * 50, "answers": ["a", "b"]}] * 3))
    [(_, _, _, error)] = in_splits(path, 1 << 20)
    assert "convert it to JSON lines" in error


def test_skipped_rows_are_counted_but_not_yielded(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(CASES["blank lines"])
    split = Split(0, str(path))
    kept = list(split_records(FS, split, skip=lambda row: row == 1))
    assert [row for row, *_ in kept] == [0, 2]


def test_a_file_that_vanished_is_one_error_row(tmp_path):
    [(row, value, _raw, error)] = split_records(FS, Split(0, str(tmp_path / "gone.jsonl"), 0, 10))
    assert (row, value) == (0, None) and error.startswith("cannot read the file:")
