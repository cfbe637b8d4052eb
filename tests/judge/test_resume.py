"""Which earlier run a judge run may continue, and which rows that run finished (no Ray)."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pytest

from judgelm_ray.judge import commit, resume
from judgelm_ray.runs import RunFolder
from judgelm_ray.spec import resolved_dict, spec_from_dict


def spec(**judge) -> dict:
    return resolved_dict(spec_from_dict({"name": "t", "input": {"path": "in.jsonl"}, "judge": {"model": "m", **judge}}))


def test_throughput_settings_may_differ_and_judging_settings_may_not():
    base = resume.judging_settings(spec())
    assert resume.judging_settings(spec(pool={"batch_size": 4, "max_actors": 8})) == base
    changed = resume.differences(base, resume.judging_settings(spec(swap=True, sampling={"max_tokens": 9})))
    assert changed == ["judge.sampling.max_tokens: 512 -> 9", "judge.swap: False -> True"]


def committed(paths: RunFolder, folder: str, rows: range, source: str) -> None:
    table = pa.table({"id": [f"r{i}" for i in rows], "source": [source] * len(rows), "row": list(rows)})
    commit.commit(table, folder, paths.staging)


def manifest(paths: RunFolder, settings: dict, files: dict, **extra) -> None:
    os.makedirs(paths.root, exist_ok=True)
    with open(paths.manifest, "w") as f:
        json.dump({"spec": settings, **files, "status": "failed", "started": "then", **extra}, f)


def test_a_run_with_results_resumes_only_with_the_same_settings_and_input(tmp_path):
    paths = RunFolder(str(tmp_path / "out"))
    files = {"inputs": [["/in.jsonl", 100, 1]], "model_files": [["/m/model.safetensors", 9, 1]]}
    assert resume.prepare_output(paths, spec(), files, restart=False) is None  # nothing there yet
    manifest(paths, spec(), files)
    committed(paths, paths.judgments, range(3), "/in.jsonl")
    assert "resuming" in resume.prepare_output(paths, spec(pool={"batch_size": 2}), files, restart=False)
    with pytest.raises(resume.RunRefused, match=r"judge.swap: False -> True.*--restart"):
        resume.prepare_output(paths, spec(swap=True), files, restart=False)
    with pytest.raises(resume.RunRefused, match="input files"):
        resume.prepare_output(paths, spec(), {**files, "inputs": [["/in.jsonl", 101, 1]]}, restart=False)
    with pytest.raises(resume.RunRefused, match="judge model files"):
        resume.prepare_output(paths, spec(), {**files, "model_files": [["/m/model.safetensors", 9, 2]]}, restart=False)
    assert resume.prepare_output(paths, spec(swap=True), files, restart=True) is None
    assert resume.part_files(paths.judgments) == []


def test_a_running_manifest_whose_driver_is_alive_is_refused_and_a_dead_one_resumed(tmp_path):
    paths = RunFolder(str(tmp_path / "out"))
    files = {"inputs": [["/in.jsonl", 100, 1]], "model_files": []}
    manifest(paths, spec(), files, status="running", driver=resume.driver())  # this very process
    committed(paths, paths.judgments, range(3), "/in.jsonl")
    with pytest.raises(resume.RunRefused, match="another run"):
        resume.prepare_output(paths, spec(), files, restart=False)
    gone = {**resume.driver(), "pid": 2**22 + 12345}  # above Linux's pid_max: never a live process
    manifest(paths, spec(), files, status="running", driver=gone)
    assert "was interrupted" in resume.prepare_output(paths, spec(), files, restart=False)


def test_finished_rows_are_flagged_per_source_and_counted_per_folder(tmp_path):
    paths = RunFolder(str(tmp_path / "out"))
    committed(paths, paths.judgments, range(0, 4), "/a.jsonl")
    committed(paths, paths.judgments, range(6, 8), "/a.jsonl")
    committed(paths, paths.quarantine, range(1, 2), "/b.jsonl")
    done, judged, quarantined = resume.finished_rows(paths, {"/a.jsonl": 10, "/b.jsonl": 3, "/c.jsonl": 5})
    assert (judged, quarantined) == (6, 1)
    assert done["/a.jsonl"].tolist() == [True] * 4 + [False] * 2 + [True] * 2 + [False] * 2
    assert done["/b.jsonl"].tolist() == [False, True, False] and "/c.jsonl" not in done


def test_a_run_written_before_judge_families_existed_still_resumes(tmp_path):
    # Its spec has no judge.template / judge.rubric / input.models: it judged with JudgeLM's templates.
    paths = RunFolder(str(tmp_path / "out"))
    files = {"inputs": [["/in.jsonl", 100, 1]], "model_files": []}
    older = spec()
    for section, key in (("judge", "template"), ("judge", "rubric"), ("input", "models")):
        del older[section][key]
    manifest(paths, older, files)
    committed(paths, paths.judgments, range(3), "/in.jsonl")
    assert "resuming" in resume.prepare_output(paths, spec(), files, restart=False)
    with pytest.raises(resume.RunRefused, match=r"judge.template: 'judgelm' -> 'mtbench'"):
        resume.prepare_output(paths, spec(template="mtbench"), files, restart=False)
