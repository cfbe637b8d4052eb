"""The `train` section of a job spec, `render` of a training spec, and where a trained judge is found."""

from __future__ import annotations

import pytest

from judgelm_ray.cli import main
from judgelm_ray.spec import SpecError, spec_from_dict
from judgelm_ray.train import run
from support import REPO

TRAIN = {"base_model": "lmsys/vicuna-7b-v1.3", "data": {"path": "s3://b/judgelm_train_100k.jsonl"}}


def errors_of(data: dict) -> list[str]:
    with pytest.raises(SpecError) as exc:
        spec_from_dict(data)
    return exc.value.errors


def test_training_only_spec_has_judgelm_defaults():
    spec = spec_from_dict({"name": "t", "train": TRAIN})
    assert spec.judge is None and spec.input is None
    train = spec.train
    assert (train.learning_rate, train.epochs, train.global_batch_size, train.max_length) == (2e-5, 3, 128, 2048)
    assert (train.warmup_ratio, train.lr_schedule, train.weight_decay) == (0.03, "cosine", 0.0)
    assert (train.dtype, train.gradient_checkpointing) == ("bfloat16", True)
    assert (train.augment.swap_ratio, train.augment.reference_ratio) == (0.5, 0.5)
    assert train.data.format == "judgelm" and train.deepspeed.zero_stage == 3


def test_spec_needs_judge_or_train():
    assert errors_of({"name": "t"}) == ["judge: a spec needs a teacher, a train or a judge section"]
    assert errors_of({"name": "t", "judge": {"model": "m"}}) == ["judge: needs an input section (the rows to judge)"]


@pytest.mark.parametrize(
    "train, expected",
    [
        ({"deepspeed": {"zero_stag": 3}}, "train.deepspeed.zero_stag: unknown key; did you mean 'zero_stage'?"),
        ({"augment": {"swap_ratio": 1.5}}, "train.augment.swap_ratio: Input should be less than or equal to 1"),
        ({"deepspeed": {"zero_stage": 1}}, "train.deepspeed.zero_stage: Input should be 2 or 3"),
        ({"deepspeed": {"zero_stage": 2, "offload_params": True}}, "train.deepspeed.offload_params: needs zero_stage 3"),
        ({"data": {"path": "d", "format": "pandalm"}}, "train.data.format: Input should be 'judgelm' or 'canonical'"),
        ({"dtype": "float16"}, "train.dtype: Input should be 'bfloat16' or 'float32'"),
        ({"global_batch_size": 100, "scaling": {"num_workers": 8}}, "train.scaling: global_batch_size (100) must be a multiple"),
    ],
)
def test_train_errors_name_the_key(train, expected):
    [line] = errors_of({"name": "t", "train": {**TRAIN, **train}})
    assert line.startswith(expected), line


def test_render_shows_deepspeed_config_and_a_training_sample(capsys):
    assert main(["render", str(REPO / "jobs" / "train-tiny.yaml"), "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert '"stage": 3' in out and '"type": "WarmupCosineLR"' in out
    assert out.count("===== training sample") == 1 and "----- target -----" in out
    assert "===== capital-0 (forward) =====" in out  # the judge section's prompts follow


@pytest.mark.parametrize("name", ["judgelm-7b-train.yaml", "judgelm-13b-train.yaml", "judgelm-33b-train.yaml", "train-tiny.yaml"])
def test_shipped_training_specs_validate(name):
    assert main(["validate", str(REPO / "jobs" / name)]) == 0


def test_rerun_with_another_train_section_is_refused(tmp_path):
    first = spec_from_dict({"name": "t", "train": TRAIN}).train
    run._check_same_spec(first, str(tmp_path))
    run._check_same_spec(first, str(tmp_path))  # the same spec resumes
    changed = first.model_copy(update={"epochs": 5})
    with pytest.raises(ValueError, match=r"changed: epochs"):
        run._check_same_spec(changed, str(tmp_path))
