"""The ``mmvet`` input format: MM-Vet questions with a model's answers, one JSON line per item.

A record is what JudgeLM's ``judgelm/data/MM-Vet/mmvet_preprocess.py`` writes
(``mm-vet-judge-samples.jsonl``, read as is), optionally with images and a GPT-4 grade:
  question_id   the id (MM-Vet's key such as "v1_0", or JudgeLM's running number);
  question      the question about the image(s);
  answer        MM-Vet's ground truth, "<OR>" between alternatives and "<AND>" between parts that
                must all be there -> ``reference``, kept raw (the judgelm-mmvet template formats it);
  answer1_body  the graded model's answer -> ``answers`` = [it] (a file with another name maps it
                with ``input.fields``, e.g. {answer1_body: model_answer});
  image / images  optional: one path or a list (paths, bytes or {"path", "bytes"}: `fields.images`);
                a relative path is kept as written: the judge job's image loader resolves it against
                the input file's folder;
  gpt4_score    optional: MM-Vet's GPT-4 correctness, 0..1, or a list of runs (its grade file's
                "score"): gold_scores = [10 x their mean], the judge's 10-point scale; kept in meta;
  capability, imagename and other keys stay in meta (``evaluate.group_by: [capability]``).
No gold verdict: one answer is graded, nothing is compared.

MM-Vet itself ships dicts keyed by id (``mm-vet.json``: {"v1_0": {"imagename", "capability",
"question", "answer"}, ...}; a model's results: {"v1_0": "answer", ...}), which are not records:
`from_mmvet` joins them into records of this format, to be written as JSON lines.
"""

from __future__ import annotations

from typing import Any

from judgelm_ray.inputs import fields as f

ID_KEY = "question_id"
_CONTENT = {"question_id", "question", "answer", "answer1_body", "image", "images"}


def adapt(rec: dict) -> tuple[dict, dict]:
    question = f.text(rec, "question")
    reference = f.text(rec, "answer")
    answer = f.text(rec, "answer1_body")
    values = {"question": question, "answers": [answer], "reference": reference, "gold_verdict": None,
              "gold_scores": _gold(rec.get("gpt4_score")), "images": _images(rec)}
    return values, f.rest(rec, _CONTENT)


def _images(rec: dict) -> list[dict] | None:
    if "image" in rec and "images" in rec:
        raise f.RowError("images", "given with 'image' as well; give one of them")
    if "image" in rec:
        image = rec["image"]
        if isinstance(image, list):
            raise f.RowError("image", "a list; give several images as 'images'")
        return None if image is None else f.images([image], "image")
    return f.images(rec.get("images"), "images")


def _gold(value: Any) -> list[float] | None:
    """MM-Vet's 0..1 correctness (one run, or the mean of several) on the judge's 10-point scale."""
    if value is None:
        return None
    runs = value if isinstance(value, list) else [value]
    numbers = [f.finite_number(run, "gpt4_score", i if isinstance(value, list) else None) for i, run in enumerate(runs)]
    if not numbers:
        raise f.RowError("gpt4_score", "an empty list; give MM-Vet's 0..1 score, a list of runs, or null")
    if not all(0 <= n <= 1 for n in numbers):
        raise f.RowError("gpt4_score", f"expected MM-Vet's correctness between 0 and 1, got {value!r:.40}")
    return [10 * sum(numbers) / len(numbers)]


def from_mmvet(
    questions: dict, results: dict, grades: dict | None = None, image_folder: str | None = "images"
) -> list[dict]:
    """MM-Vet's ``mm-vet.json`` and a model's results (both keyed by id) -> records of this format,
    in the questions' order, as JudgeLM's mmvet_preprocess.py joins them (but keyed by MM-Vet's id).

    `grades`: MM-Vet's grade file ({id: {"score": [runs]}}) for gpt4_score. `image_folder`: where the
    images are relative to the file the records are written to (MM-Vet's zip has ``images/`` next to
    mm-vet.json); None: no image paths. Raises ValueError for a question without a result.
    """
    missing = [key for key in questions if key not in results]
    if missing:
        raise ValueError(f"{len(missing)} MM-Vet question(s) have no result, e.g. {missing[0]!r}")
    records = []
    for key, item in questions.items():
        record = {**item, "question_id": key, "answer1_body": results[key]}
        if image_folder is not None and item.get("imagename"):
            record["image"] = f"{image_folder}/{item['imagename']}"
        if grades is not None and key in grades:
            record["gpt4_score"] = grades[key]["score"]
        records.append(record)
    return records
