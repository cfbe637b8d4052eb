"""Storage on a real S3 server: inputs, outputs and models named by s3://, and no leaked credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import yaml

from judgelm_ray import model_store, storage
from judgelm_ray.judge import run_judge
from judgelm_ray.judge.resume import RunRefused
from judgelm_ray.spec import spec_from_dict
from support.s3_server import ACCESS_KEY, SECRET_KEY, put_s3_object

pytestmark = pytest.mark.integration

from support import REPO

SMOKE = REPO / "jobs" / "data" / "smoke.jsonl"


@pytest.fixture(scope="module")
def s3_input(s3) -> str:
    put_s3_object("s3://judgelm/inputs/smoke/part-0.jsonl", SMOKE.read_bytes())
    return "s3://judgelm/inputs/smoke/"


def s3_spec(name: str, model: str, input_path: str) -> dict:
    return {
        "name": name,
        "input": {"path": input_path},
        "judge": {"model": model, "swap": True, "fast": True, "sampling": {"max_tokens": 8},
                  "pool": {"gpus_per_actor": 0, "cpus_per_actor": 1}},
        "output": "s3://judgelm/runs/{name}",
    }


def read_s3_parquet(uri: str) -> list[dict]:
    fs, path = storage.filesystem_for(uri)
    files = [i.path for i in fs.get_file_info(pafs.FileSelector(path)) if i.path.endswith(".parquet")]
    return [row for f in files for row in pq.read_table(f, filesystem=fs).to_pylist()]


def test_judge_job_reads_input_and_model_from_s3_and_writes_judgments_there(ray_local, s3_model, s3_input):
    manifest = run_judge(spec_from_dict(s3_spec("from-s3", s3_model, s3_input)))
    assert manifest["status"] == "succeeded"
    assert manifest["counts"] == {"read": 27, "judged": 25, "quarantined": 2, "reused": 0,
                                  "parse_failures": manifest["counts"]["parse_failures"], "injection_flagged": 0}
    judgments = read_s3_parquet("s3://judgelm/runs/from-s3/judgments")
    assert len(judgments) == 25 and all(j["model"] == s3_model for j in judgments)
    assert len(read_s3_parquet("s3://judgelm/runs/from-s3/quarantine")) == 2
    assert storage.read_json("s3://judgelm/runs/from-s3/manifest.json")["fingerprint"] == manifest["fingerprint"]
    cached = Path(os.environ["JUDGELM_RAY_MODEL_CACHE"]) / "judgelm" / "models" / "tiny"
    assert (cached / model_store.COMPLETE_MARKER).is_file() and (cached / "config.json").is_file()

    # Run again on the same S3 output: every row is already there, none is judged again.
    again = run_judge(spec_from_dict(s3_spec("from-s3", s3_model, s3_input)))
    assert again["resumed"] is True and again["counts"]["reused"] == 25 and again["counts"]["judged"] == 25
    assert sorted(j["id"] for j in read_s3_parquet("s3://judgelm/runs/from-s3/judgments")) == sorted(
        j["id"] for j in judgments)
    changed = spec_from_dict({**s3_spec("from-s3", s3_model, s3_input), "seed": 1})
    with pytest.raises(RunRefused, match="seed: 0 -> 1"):
        run_judge(changed)


def test_model_copy_is_skipped_when_complete_and_resumes_what_is_missing(s3, s3_model, tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGELM_RAY_MODEL_CACHE", str(tmp_path))
    local = Path(model_store.ensure_local_model(s3_model))
    weights = local / "model.safetensors"
    config = local / "config.json"
    before = (weights.stat().st_mtime_ns, config.stat().st_mtime_ns)
    assert Path(model_store.ensure_local_model(s3_model)) == local
    assert (weights.stat().st_mtime_ns, config.stat().st_mtime_ns) == before  # nothing fetched again

    config.unlink()  # as if the first copy had been interrupted
    (local / model_store.COMPLETE_MARKER).unlink()
    model_store.ensure_local_model(s3_model)
    assert config.is_file() and weights.stat().st_mtime_ns == before[0]  # only the missing file came back
    assert not list(local.rglob("*.part"))


def test_missing_model_prefix_is_a_clear_error(s3):
    with pytest.raises(FileNotFoundError, match="no objects under s3://judgelm/models/absent"):
        model_store.ensure_local_model("s3://judgelm/models/absent")


def test_require_model_finds_an_s3_model_and_names_a_missing_one(s3, s3_model):
    model_store.require_model(s3_model)
    model_store.require_model(s3_model + "/")
    # "models/ti" is the start of "models/tiny" but no folder of its own; a missing bucket is missing too.
    for uri in ["s3://judgelm/models/absent", "s3://judgelm/models/ti", "s3://no-such-bucket/models/tiny"]:
        with pytest.raises(FileNotFoundError) as raised:
            model_store.require_model(uri, field="train.base_model")
        assert str(raised.value) == (f"train.base_model: {uri} does not exist "
                                     "(no objects under it; give a local model folder or an s3:// URI)")


def test_credentials_never_appear_in_outputs_logs_or_errors(ray_local, s3_model, s3_input, tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(s3_spec("no-leak", s3_model, s3_input)))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    run = subprocess.run([sys.executable, "-m", "judgelm_ray.cli", "run", str(spec_path)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    failed = subprocess.run(
        [sys.executable, "-m", "judgelm_ray.cli", "run", str(spec_path), "--set", "input.path=s3://no-such-bucket/x.jsonl",
         "--set", "output=s3://judgelm/runs/leak-failed"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert failed.returncode != 0
    texts = [run.stdout, run.stderr, failed.stdout, failed.stderr]
    texts.append(json.dumps(storage.read_json("s3://judgelm/runs/no-leak/manifest.json")))
    failed_manifest = storage.read_json("s3://judgelm/runs/leak-failed/manifest.json")
    assert failed_manifest["status"] == "failed" and "no-such-bucket" in failed_manifest["error"]
    texts.append(json.dumps(failed_manifest))
    texts += [json.dumps(r) for r in read_s3_parquet("s3://judgelm/runs/no-leak/judgments")]
    texts += [json.dumps(r) for r in read_s3_parquet("s3://judgelm/runs/no-leak/quarantine")]
    for text in texts:
        assert SECRET_KEY not in text and ACCESS_KEY not in text
