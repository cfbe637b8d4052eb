"""The ``judgelm-answers`` input format: a folder of JudgeLM's per-model answer files, paired for judging.

    <model>.jsonl    one model's answers, a line per question (JudgeLM's judgelm/data/JudgeLM/answers/):
                     {"question_id": 0, "question_body": "...", "text": "<the answer>",
                      "model": "alpaca-native", "decoding_method": "top_p_sampling", "scores": {...}}
                     question_id, question_body and text are required; model, decoding_method and
                     scores optional (JudgeLM allows placeholders)
    reference.jsonl  optional reference answers: {"question_id": 0, "text": "<the reference answer>"}

JudgeLM's judgelm_preprocess.py zips two or more such files line by line into judge samples; this
format joins them by question_id instead, into records in the ``judgelm`` format's keys, read by its
adapter (`adapt`):
- models: every ``*.jsonl`` directly in the folder except reference.jsonl is one model's file, named
  by the file name without .jsonl (names are unique; a line's "model" may be a placeholder), sorted
  by name; a given `models` list keeps its order. All pairs (itertools.combinations), or with
  `pairs` = (per_question, seed) that many per question (`pairing.pick_pairs`). The pair's first
  model is answer 1.
- questions: every question_id in the picked models' files, in the order first met (files in model
  order); a later line for the same question wins.
- records, one per question and pair: {"id": "<question_id>:<model_a>:<model_b>", "question_id",
  "question_body", "answer1_body", "answer2_body", "answer1_model_id" (the line's "model", or the
  file's name), "answer2_model_id", "answer1_metadata": {"decoding_method", "scores"} (those the line
  has), "answer2_metadata", "reference": {"text"} (where reference.jsonl has one)}. The "scores" of
  JudgeLM's answer files are automatic metrics (logprobs, rouge, ...), not a judge's: kept, never gold.
  meta keeps question_id, the model ids and the metadata (for evaluate.group_by).
A broken line never fails the join: the rows it spoils are records carrying ``error`` ("<file> row
<n>: field '...': ..."), which `adapt` raises, so the row is quarantined. A missing answer spoils that
model's rows of the question ("<file>: field 'question_id': no answer to question Q"); an unreadable
line is named in the error of every question its file has no answer to (a reference line too: the
question's reference might be on it). Two answers whose question_body differs (JudgeLM's preprocess
asserts they match) spoil their pair's row, whose error names both files and rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from judgelm_ray.inputs import fields as f
from judgelm_ray.inputs import judgelm
from judgelm_ray.inputs.pairing import (
    AnswerFile,
    JoinError,
    choose_models,
    jsonl_names,
    load_answers,
    lookup,
    pick_pairs,
    read,
)

ID_KEY = "id"
REFERENCE = "reference"  # reference.jsonl: the folder's one file that is not a model's
LAYOUT = ("a judgelm-answers input is a folder of JudgeLM's answer files: <model>.jsonl per model, lines "
          '{"question_id", "question_body", "text"}, and an optional reference.jsonl, lines {"question_id", "text"}')
_FIX = "add it, or pick models that have one"
# Kept per answer in answerN_metadata: JudgeLM's preprocess keeps decoding_method there; scores, lest they be lost.
_METADATA = ("decoding_method", "scores")


def join(
    read_text: Callable[[str], str],
    list_dir: Callable[[str], list[str]],
    folder: str,
    models: list[str] | None,
    pairs: tuple[int | None, int] | None = None,
) -> Iterator[dict]:
    """The records of the answer folder `folder` (see the module doc).

    `read_text(path)` returns a file's text; `list_dir(path)` the names of the files in a folder
    ([] or FileNotFoundError where it does not exist). `pairs` = (per_question, seed) draws that
    many model pairs per question; None judges all pairs. Only configuration mistakes raise
    ValueError: no answer files, an unknown model in `models`, fewer than two models.
    """
    root = folder.rstrip("/")
    names = jsonl_names(list_dir, root)
    found = [name for name in names if name != REFERENCE]
    if not found:
        raise ValueError(f"{root}: no <model>.jsonl answer files; {LAYOUT}")
    picked = choose_models(found, models, root)
    if len(picked) < 2:
        raise ValueError(f"models: {', '.join(picked)} alone; judgelm-answers pairs answers, so it needs two or "
                         f"more models (the folder has {', '.join(found)})")
    answers = {m: _load(read_text, f"{root}/{m}.jsonl", _answer) for m in picked}
    reference = _load(read_text, f"{root}/{REFERENCE}.jsonl", _reference) if REFERENCE in names else None
    per_question, seed = pairs or (None, 0)
    for qid in _questions(answers.values()):
        for pair in pick_pairs(picked, qid, per_question, seed):
            yield _record(qid, pair, answers, reference)


def _questions(files: Iterable[AnswerFile]) -> list[str]:
    """Every question id the files answer (or name on a broken line), in the order first met."""
    return list(dict.fromkeys(qid for file in files for qid in file.by_question))


def _record(qid: str, pair: tuple[str, str], answers: dict[str, AnswerFile], reference: AnswerFile | None) -> dict:
    out = {"id": ":".join([qid, *pair])}
    try:
        (row1, one), (row2, two) = (lookup(answers[m], qid, _FIX) for m in pair)
        if one["question_body"] != two["question_body"]:
            raise JoinError(f"{answers[pair[1]].path} row {row2}: field 'question_body': differs from "
                            f"{answers[pair[0]].path} row {row1}'s; answers paired on question {qid} must answer "
                            "the same question: fix the question_id or the text")
        ref = lookup(reference, qid, None) if reference is not None else None
    except JoinError as e:
        return {**out, "error": str(e)}
    out.update(question_id=one["question_id"], question_body=one["question_body"],
               answer1_body=one["text"], answer2_body=two["text"],
               answer1_model_id=one["model"] or pair[0], answer2_model_id=two["model"] or pair[1],
               answer1_metadata=dict(one["metadata"]), answer2_metadata=dict(two["metadata"]))
    if ref is not None:
        out["reference"] = {"text": ref[1]}
    return out


def _load(read_text: Callable[[str], str], path: str, parse: Callable[[dict], object]) -> AnswerFile:
    return load_answers(read(read_text, path, LAYOUT), path, parse)


def _answer(value: dict) -> dict:
    """A model's answer line, checked (RowError names the field)."""
    return {"question_id": value["question_id"], "question_body": f.text(value, "question_body"),
            "text": f.text(value, "text"), "model": f.optional_text(value.get("model"), "model"),
            "metadata": {key: value[key] for key in _METADATA if key in value}}


def _reference(value: dict) -> str:
    return f.text(value, "text")


def adapt(rec: dict) -> tuple[dict, dict]:
    """A joined record -> the ``judgelm`` format's canonical values and meta, plus question_id in meta
    (the row's id is the pair's, so judgelm's question_id id would otherwise be lost)."""
    if rec.get("error") is not None:
        raise JoinError(rec["error"])
    values, meta = judgelm.adapt({k: v for k, v in rec.items() if k != ID_KEY})
    return values, {"question_id": rec.get("question_id"), **meta}
