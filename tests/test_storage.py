from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgelm_ray import storage
from support.faults import write_fails_past


def test_input_listing_expands_files_folders_and_globs_sorted(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ["b/2.jsonl", "a.json", "c.parquet", "notes.txt", "b/1.jsonl.gz"]:
        (tmp_path / name).write_text("")
    _, files = storage.list_input_files(str(tmp_path))
    assert [f.removeprefix(str(tmp_path) + "/") for f in files] == ["a.json", "b/1.jsonl.gz", "b/2.jsonl", "c.parquet"]
    _, files = storage.list_input_files(str(tmp_path / "b" / "*.jsonl"))
    assert files == [str(tmp_path / "b" / "2.jsonl")]
    _, files = storage.list_input_files(str(tmp_path / "a.json"))
    assert files == [str(tmp_path / "a.json")]


def test_missing_or_empty_input_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        storage.list_input_files(str(tmp_path / "nope.jsonl"))
    with pytest.raises(FileNotFoundError, match="no input files found"):
        storage.list_input_files(str(tmp_path))


def test_write_json_leaves_no_temporary_files_and_replaces_atomically(tmp_path):
    target = tmp_path / "run" / "manifest.json"
    storage.write_json(str(target), {"a": 1})
    storage.write_json(str(target), {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["manifest.json"]
    assert storage.read_json(str(target)) == {"a": 2}


def test_parquet_row_count_reads_footers_and_is_zero_when_nothing_was_written(tmp_path):
    assert storage.parquet_row_count(str(tmp_path / "missing")) == 0
    folder = tmp_path / "judgments"
    folder.mkdir()
    pq.write_table(pa.table({"x": [1, 2, 3]}), folder / "a.parquet")
    pq.write_table(pa.table({"x": [4]}), folder / "b.parquet")
    assert storage.parquet_row_count(str(folder)) == 4
    storage.remove_tree(str(folder))
    assert not folder.exists()


def test_common_root_and_join():
    assert storage.common_root(["/d/a/x.jsonl", "/d/b/y.jsonl"]) == "/d"
    assert storage.join("s3://bucket/run/", "judgments") == "s3://bucket/run/judgments"


def test_symlink_loops_are_not_followed_and_each_file_is_listed_once(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.jsonl").write_text("{}\n")
    (data / "sub" / "b.jsonl").write_text("{}\n")
    (data / "sub" / "loop").symlink_to(data)  # a folder that contains itself
    (data / "again.jsonl").symlink_to(data / "a.jsonl")  # one file under two names
    (data / "linked").symlink_to(data / "sub")  # a symlinked folder is followed, once
    _, files = storage.list_input_files(str(data))
    assert [f.removeprefix(str(data) + "/") for f in files] == ["a.jsonl", "linked/b.jsonl"]


def test_write_json_on_a_full_disk_leaves_no_temporary_file(tmp_path):
    target = str(tmp_path / "manifest.json")
    assert write_fails_past(1000, "from judgelm_ray import storage", f"storage.write_json({target!r}, {{'x': 'y' * 5000}})")
    assert list(tmp_path.iterdir()) == []
