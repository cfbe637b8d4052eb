"""What the judge job makes of the settings its engine resolved (no Ray started)."""

from __future__ import annotations

from judgelm_ray.judge.run import small_default_note
from judgelm_ray.spec import spec_from_dict


def judge(**fields):
    return spec_from_dict({"name": "t", "input": {"path": "x"}, "judge": {"model": "m", **fields}}).judge


def test_the_summary_says_when_vllm_fell_back_to_a_small_default_on_a_gpu():
    small = {"max_num_seqs": 128, "max_num_batched_tokens": 2048}
    assert small_default_note(small, judge()) == (
        "vLLM fell back to a small default (max_num_seqs 128, max_num_batched_tokens 2048): set "
        "judge.engine_settings.max_num_seqs to use the GPU fully")
    assert small_default_note(small, judge(engine_settings={"max_num_seqs": 128, "max_num_batched_tokens": 2048})) is None
    assert small_default_note({"max_num_seqs": 1024, "max_num_batched_tokens": 16384}, judge()) is None
    assert small_default_note(small, judge(pool={"gpus_per_actor": 0.0})) is None  # CPU defaults are the CPU's
    assert small_default_note(None, judge()) is None
