"""Fine-tuning with every path on a real S3 server: base model, training data, Ray Train's checkpoints
and the exported judge all live under s3://, and a run killed after a checkpoint resumes from S3.
"""

from __future__ import annotations

import json
import re

import pyarrow.fs as pafs
import pytest

from judgelm_ray import model_store, storage
from judgelm_ray.job import run_job
from judgelm_ray.runs import resolve_judge_model
from judgelm_ray.spec import spec_from_dict
from judgelm_ray.train.run import CRASH_ENV
from support.s3_server import ACCESS_KEY, SECRET_KEY, put_s3_object
from support.train_specs import BATCH, train_spec

pytestmark = pytest.mark.integration

from support import REPO

RUN = "s3://judgelm/runs/train-s3-resume"


@pytest.fixture(scope="module")
def s3_train_data(s3) -> str:
    lines = (REPO / "jobs" / "data" / "train-tiny.jsonl").read_text().splitlines()[:BATCH]
    put_s3_object("s3://judgelm/train-data/tiny/part-0.jsonl", ("\n".join(lines) + "\n").encode())
    return "s3://judgelm/train-data/tiny/"


def s3_keys(uri: str) -> list[str]:
    """Every object under an s3:// prefix, relative to it."""
    fs, inner = storage.filesystem_for(uri)
    infos = fs.get_file_info(pafs.FileSelector(inner, recursive=True, allow_not_found=True))
    return sorted(i.path[len(inner):].lstrip("/") for i in infos if i.is_file)


def checkpoint_steps(uri: str) -> set[int]:
    return {int(m.group(1)) for key in s3_keys(uri) if (m := re.match(r"checkpoint_step_(\d+)/", key))}


def test_zero2_checkpoints_on_s3_survive_a_killed_run_and_the_rerun_exports_to_s3(
    ray_local, s3_model, s3_train_data, tmp_path, monkeypatch
):
    data = train_spec(tmp_path, s3_model, s3_train_data, zero_stage=2, max_failures=0, epochs=4, output=RUN,
                      name="train-s3-resume")
    spec = spec_from_dict(data)
    root = f"{RUN}/train"

    # 1. Rank 1 SIGKILLs itself once the step-2 checkpoint is committed on S3; no retries: the run fails.
    monkeypatch.setenv(CRASH_ENV, f"1:2:{tmp_path / 'crashed'}")
    with pytest.raises(Exception):
        run_job(spec)
    assert (tmp_path / "crashed").exists()  # the worker really died
    failed = storage.read_json(f"{root}/manifest.json")
    assert failed["status"] == "failed" and "error" in failed
    assert checkpoint_steps(f"{root}/checkpoints") == {2}
    ckpt_files = s3_keys(f"{root}/checkpoints/checkpoint_step_000002")
    assert any(k.endswith("model_states.pt") for k in ckpt_files), ckpt_files  # DeepSpeed shards on S3
    assert any(k.endswith("optim_states.pt") for k in ckpt_files), ckpt_files
    assert not s3_keys(f"{root}/model")  # nothing exported by the failed run

    # 2. The same spec again: Ray Train finds its state on S3 and resumes at step 2, not 0.
    monkeypatch.delenv(CRASH_ENV)
    [(section, manifest, _)] = run_job(spec)
    assert section == "train" and manifest["status"] == "succeeded"
    stats = manifest["stats"]
    assert stats["resumed_from_step"] == 2 and stats["steps"] == stats["total_steps"] == 4, stats
    assert stats["first_loss"] is not None and stats["final_loss"] < stats["first_loss"], stats
    assert manifest["counts"] == {"examples": BATCH, "dropped": {}}
    assert manifest["outputs"]["model"] == f"{root}/model"
    assert manifest["outputs"]["checkpoints"] == f"{root}/checkpoints"
    assert checkpoint_steps(f"{root}/checkpoints") == {2, 4}  # keep: 2
    assert storage.read_json(f"{root}/manifest.json")["status"] == "succeeded"
    assert storage.read_json(f"{root}/deepspeed_config.json")["zero_optimization"]["stage"] == 2

    # 3. The export is on S3, and a judge spec naming the run folder finds and loads it.
    exported = s3_keys(f"{root}/model")
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= set(exported), exported
    assert resolve_judge_model(RUN) == f"{root}/model"
    local = model_store.ensure_local_model(f"{root}/model")
    from judgelm_ray.engines import GenerationParams, load_engine

    [generation] = load_engine("hf", local).generate(["What?"], GenerationParams(max_tokens=4))
    assert generation.completion_tokens >= 1

    # 4. No credentials in what the run wrote.
    written = ["manifest.json", "train_spec.json", "deepspeed_config.json", "result.json",
               "checkpoints/checkpoint_manager_snapshot.json"]  # the last one is Ray Train's own state
    for key in written:
        text = json.dumps(storage.read_json(f"{root}/{key}"))
        assert SECRET_KEY not in text and ACCESS_KEY not in text
