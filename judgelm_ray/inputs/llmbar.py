"""The ``llmbar`` input format: LLMBar's ``Dataset/<group>/<subset>/dataset.json``.

input -> question, [output_1, output_2] -> answers, label -> gold_verdict. LLMBar has no ids,
so they are derived from the file and row.
"""

from __future__ import annotations

from judgelm_ray.inputs import fields as f

ID_KEY = "id"


def adapt(rec: dict) -> tuple[dict, dict]:
    question = f.text(rec, "input")
    answers = [f.text(rec, "output_1"), f.text(rec, "output_2")]
    values = {"question": question, "answers": answers, "reference": None,
              "gold_verdict": f.verdict(rec.get("label"), "label", 2), "gold_scores": None}
    return values, f.rest(rec, {"id", "input", "output_1", "output_2", "label"})
