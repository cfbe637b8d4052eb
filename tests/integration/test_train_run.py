"""Fine-tuning end to end: real Ray Train workers running real DeepSpeed ZeRO over gloo on CPU.

Both runs train the tiny model on one fixed global batch (no augmentation), so the loss must fall;
each one loses a worker (SIGKILL after a checkpoint) and must carry on from that checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from judgelm_ray.job import run_job
from judgelm_ray.spec import spec_from_dict
from judgelm_ray.train.run import CRASH_ENV
from support.train_specs import BATCH, train_spec

pytestmark = pytest.mark.integration

from support import REPO


@pytest.fixture(scope="module")
def fixed_batch(tmp_path_factory) -> str:
    """Exactly one global batch of JudgeLM-format records."""
    lines = (REPO / "jobs" / "data" / "train-tiny.jsonl").read_text().splitlines()[:BATCH]
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def assert_exported(model_dir: Path, base_model: str) -> None:
    """A full HF folder whose every tensor has the base model's shape and was trained."""
    trained = load_file(model_dir / "model.safetensors")
    base = load_file(Path(base_model) / "model.safetensors")
    assert trained.keys() == base.keys()
    for name, tensor in base.items():
        assert trained[name].shape == tensor.shape, name
    assert not torch.equal(trained["model.layers.0.self_attn.q_proj.weight"], base["model.layers.0.self_attn.q_proj.weight"])
    assert {"config.json", "tokenizer.json", "generation_config.json"} <= {p.name for p in model_dir.iterdir()}


def test_zero2_worker_lost_restarts_from_checkpoint(ray_local, tiny_model, fixed_batch, tmp_path, monkeypatch):
    """FailureConfig: a killed worker's group restarts from the latest checkpoint within the run."""
    monkeypatch.setenv(CRASH_ENV, f"1:2:{tmp_path / 'crashed'}")
    data = train_spec(tmp_path, tiny_model, fixed_batch, zero_stage=2, max_failures=1)
    data["train"]["eval_data"] = {"path": fixed_batch, "format": "judgelm"}
    spec = spec_from_dict(data)
    [(section, manifest, summary)] = run_job(spec)

    assert (tmp_path / "crashed").exists()  # the worker really died
    assert section == "train" and manifest["status"] == "succeeded"
    stats = manifest["stats"]
    assert stats["resumed_from_step"] == 2 and stats["steps"] == stats["total_steps"] == 6
    assert stats["final_loss"] < stats["first_loss"] - 0.5, stats
    assert stats["eval_loss"] < stats["first_loss"] - 0.5  # measured on the same batch, after the last step
    assert manifest["counts"] == {"examples": BATCH, "dropped": {}}
    assert "tokens/s" in summary
    assert_exported(tmp_path / "run" / "train" / "model", tiny_model)

    from judgelm_ray.engines import GenerationParams, load_engine

    [generation] = load_engine("hf", str(tmp_path / "run" / "train" / "model")).generate(
        ["What?"], GenerationParams(max_tokens=4)
    )
    assert generation.completion_tokens >= 1


def test_zero3_killed_run_resumes_on_rerun_and_its_model_judges(ray_local, tiny_model, fixed_batch, tmp_path, monkeypatch):
    """A run that dies mid-way resumes when the same spec runs again; vLLM then judges with the export."""
    rows = [json.loads(line) for line in (REPO / "jobs" / "data" / "smoke.jsonl").read_text().splitlines()[:4]]
    (tmp_path / "judge.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    data = train_spec(
        tmp_path, tiny_model, fixed_batch, zero_stage=3, max_failures=0,
        input={"path": str(tmp_path / "judge.jsonl")},
        judge={
            "model": str(tmp_path / "run" / "train"),  # the run folder names its exported model
            "engine": "vllm",
            "sampling": {"max_tokens": 16},
            "pool": {"gpus_per_actor": 0, "cpus_per_actor": 1, "batch_size": 8},
        },
    )
    spec = spec_from_dict(data)

    monkeypatch.setenv(CRASH_ENV, f"1:2:{tmp_path / 'crashed'}")
    with pytest.raises(Exception):
        run_job(spec)
    failed = json.loads((tmp_path / "run" / "train" / "manifest.json").read_text())
    assert failed["status"] == "failed" and "error" in failed
    assert not (tmp_path / "run" / "train" / "model").exists()

    monkeypatch.delenv(CRASH_ENV)
    (train_section, trained, _), (judge_section, judged, _), (page, _, _) = run_job(spec)
    assert (train_section, judge_section, page) == ("train", "judge", "inspect")
    stats = trained["stats"]
    assert stats["resumed_from_step"] == 2 and stats["steps"] == 6
    assert stats["final_loss"] < stats["first_loss"] - 0.5, stats  # first_loss survives the restart
    model_dir = tmp_path / "run" / "train" / "model"
    assert_exported(model_dir, tiny_model)
    deepspeed_config = json.loads((tmp_path / "run" / "train" / "deepspeed_config.json").read_text())
    assert deepspeed_config["zero_optimization"]["stage"] == 3

    assert judged["status"] == "succeeded"
    assert judged["spec"]["judge"]["model"] == str(model_dir)
    assert judged["counts"]["judged"] == 4
