"""The run folder: where each job writes, and how `judge.model` finds a training run's model."""

from __future__ import annotations

from judgelm_ray.runs import RunFolder, TrainFolder, resolve_judge_model


def test_run_folder_layout():
    run = RunFolder("s3://bucket/runs/x")
    assert (run.judgments, run.quarantine, run.manifest) == (
        "s3://bucket/runs/x/judgments", "s3://bucket/runs/x/quarantine", "s3://bucket/runs/x/manifest.json")
    assert (run.eval, run.train) == ("s3://bucket/runs/x/eval", "s3://bucket/runs/x/train")
    train = TrainFolder(run.train)
    assert (train.model, train.checkpoints) == ("s3://bucket/runs/x/train/model", "s3://bucket/runs/x/train/checkpoints")
    assert train.manifest == "s3://bucket/runs/x/train/manifest.json"


def test_judge_model_may_name_the_training_run(tmp_path):
    model = tmp_path / "job" / "train" / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    assert resolve_judge_model(str(tmp_path / "job" / "train")) == str(model)
    assert resolve_judge_model(str(tmp_path / "job")) == str(model)
    assert resolve_judge_model(str(model)) == str(model)
    assert resolve_judge_model("BAAI/JudgeLM-7B-v1.0") == "BAAI/JudgeLM-7B-v1.0"
