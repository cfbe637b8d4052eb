"""The ``evalbiasbench`` input format: OffsetBias's EvalBiasBench (ncsoft/offsetbias ``biasbench.json``).

The file is one JSON object: bias category -> list of {"instruction", "response1", "response2",
"label", "bias"} (label 1 everywhere: response1 is the better answer; "bias" repeats the
category). `flatten` turns it into records, one per pair, in file order:
{"id": "<category>:<index in its list>", "category", **the item}. A record ->
question = instruction, answers = [response1, response2], gold_verdict = label (1, 2, or 0 / "tie");
id, category, bias and other keys stay in meta (``evaluate.group_by: [category]``). Answer 1 is
always the better one, so judge both orders (``judge.swap``).
"""

from __future__ import annotations

from judgelm_ray.inputs import fields as f

ID_KEY = "id"


def adapt(rec: dict) -> tuple[dict, dict]:
    question = f.text(rec, "instruction")
    answers = [f.text(rec, "response1"), f.text(rec, "response2")]
    values = {"question": question, "answers": answers, "reference": None,
              "gold_verdict": f.verdict(rec.get("label"), "label", 2), "gold_scores": None}
    return values, f.rest(rec, {"id", "instruction", "response1", "response2", "label"})


def flatten(data: dict) -> list:
    """biasbench.json's {category: [item, ...]} -> records (an item's own id or category wins);
    ValueError where the file is not of that shape."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object of bias category -> list of pairs, got {f.kind(data)}")
    records = []
    for category, items in data.items():
        if not isinstance(items, list):
            raise ValueError(f"category {category!r}: expected a list of pairs, got {f.kind(items)}")
        for index, item in enumerate(items):
            # Not an object: kept as it is, for the reader to make it an error row of its own.
            keyed = isinstance(item, dict)
            records.append({"id": f"{category}:{index}", "category": category, **item} if keyed else item)
    return records
