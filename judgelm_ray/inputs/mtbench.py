"""The ``mtbench`` input format: a folder laid out as FastChat llm_judge's ``data/mt_bench``.

    question.jsonl                  {"question_id": 81, "category": "writing",
                                     "turns": ["<user turn 1>", "<user turn 2>"], "reference": [...]}
    model_answer/<model>.jsonl      {"question_id": 81, "model_id": "...", "answer_id": "...",
                                     "choices": [{"index": 0, "turns": ["<answer 1>", "<answer 2>"]}]}
    reference_answer/<judge>.jsonl  the model-answer format; FastChat reads gpt-4.jsonl, its judge's

One canonical row joins several files, so this format joins before rows are read: `join` yields
plain records (JSON-able) that `adapt` turns into canonical rows. One record per (question, model
pair, turn) with 2+ models, or per (question, model, turn) with exactly one (single-answer grading):
- models: every model_answer/*.jsonl, sorted by name as FastChat's load_model_answers does, all
  pairs (itertools.combinations, FastChat's pairwise-all); a given `models` list keeps its order
  (FastChat's --model-list). The pair's first model is answer 1 (Assistant A in the forward order).
  `pairs` = (per_question, seed) judges each question on `per_question` of those pairs instead,
  drawn per question (`pairing.pick_pairs`).
- turns: turn 1 is a single-turn row (question = turns[0]); turn t > 1 is a dialogue row:
  turns = [user: turns[0]], each answer's own earlier turns in answer_turns ([assistant: its answer
  to turn 1, user: turns[1], ...]), question = turns[t-1], answers = each model's answer t.
  FastChat judges turn 2 of two-turn questions only (MT-bench's are all two-turn); the rows of a
  later turn are made too, and the mtbench judge family refuses them (its templates hold two turns).
- reference: as FastChat's gen_judgment.py: GPT-4's answers in reference_answer/gpt-4.jsonl (or the
  folder's only file), for questions of its NEED_REF_CATS (math, reasoning, coding) only; reference
  = its answer to the row's turn, reference_turns = its earlier answers, in answer_turns' shape. A
  question of those categories without one in that file is an error row (FastChat's check_data
  refuses the run); with no reference file, no row has a reference. FastChat's judge never reads
  question.jsonl's own `reference` (human-written, on 39 questions of all categories): it is kept in
  meta as `question_reference`.
- ids: "<question_id>:<model_a>:<model_b>:turn<t>" ("<question_id>:<model>:turn<t>" for one model);
  question_id, category, turn and models go to meta (for evaluate.group_by).
A broken line never fails the join: each row it spoils is a record carrying ``error`` ("<file> row
<n>: field '...': ...", rows counted from 0 as for every input file), which `adapt` raises, so the
row is quarantined. A missing answer spoils that model's rows of the question; an unreadable answer
line is named in the error of every question its model has no answer to. A repeated question_id in
question.jsonl is an error row; a later answer line for the same question wins, as in FastChat's dict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from judgelm_ray.inputs import dialogue
from judgelm_ray.inputs import fields as f
from judgelm_ray.inputs.files import json_lines
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
# FastChat's categories whose questions are judged against GPT-4's reference answers (common.py).
NEED_REF_CATS = ("math", "reasoning", "coding")
REFERENCE_MODEL = "gpt-4"  # FastChat's judge model, whose reference_answer file it reads
LAYOUT = ("an mtbench input is a folder laid out as FastChat's data/mt_bench "
          "(question.jsonl, model_answer/<model>.jsonl, reference_answer/gpt-4.jsonl)")


def join(
    read_text: Callable[[str], str],
    list_dir: Callable[[str], list[str]],
    folder: str,
    models: list[str] | None,
    pairs: tuple[int | None, int] | None = None,
) -> Iterator[dict]:
    """The records of the MT-bench folder `folder` (see the module doc).

    `read_text(path)` returns a file's text; `list_dir(path)` the names of the files in a folder
    ([] or FileNotFoundError where it does not exist). `pairs` = (per_question, seed) draws that
    many model pairs per question; None judges all pairs. Only configuration mistakes raise
    ValueError: no question.jsonl or model answers, an unknown model, several reference files and
    no gpt-4.jsonl.
    """
    root = folder.rstrip("/")
    picked = _models(list_dir, f"{root}/model_answer", models)
    answers = {m: _load(read_text, f"{root}/model_answer/{m}.jsonl") for m in picked}
    reference_path = _reference_file(list_dir, f"{root}/reference_answer")
    reference = _load(read_text, reference_path) if reference_path else None
    question_path = f"{root}/question.jsonl"
    seen: dict[str, int] = {}
    for row, value, _text, error in json_lines(read(read_text, question_path, LAYOUT).encode("utf-8")):
        try:
            question = _question(value, error, seen, row)
        except f.RowError as e:
            error = str(e)
        if error is not None:  # the question's rows are unknown: one error record stands for them
            yield {"id": f"question.jsonl:{row}", "error": f"{question_path} row {row}: {error}"}
            continue
        for group in _groups(picked, question["key"], pairs):
            for turn in range(1, len(question["turns"]) + 1):
                yield _record(question, group, turn, answers, reference)


def _groups(picked: list[str], qid: str, pairs: tuple[int | None, int] | None) -> list[tuple[str, ...]]:
    """The model pairs judging a question, or the one model graded alone."""
    if len(picked) == 1:
        return [(picked[0],)]
    per_question, seed = pairs or (None, 0)
    return pick_pairs(picked, qid, per_question, seed)


def _record(question: dict, group: tuple[str, ...], turn: int, answers: dict[str, AnswerFile],
            reference: AnswerFile | None) -> dict:
    qid = question["key"]
    out = {"id": ":".join([qid, *group, f"turn{turn}"]), "question_id": question["question_id"],
           "category": question["category"], "turn": turn, "models": list(group)}
    try:
        own = [_turns(answers[m], qid, turn, "add it, or pick models that have one") for m in group]
        ref = (_turns(reference, qid, turn, f"FastChat judges {question['category']} questions against one: add it")
               if reference is not None and question["category"] in NEED_REF_CATS else None)
    except JoinError as e:
        return {**out, "error": str(e)}
    users = question["turns"]
    out.update(question=users[turn - 1], answers=[a[-1] for a in own], reference=ref[-1] if ref else None,
               turns=None, answer_turns=None, reference_turns=None)
    if turn > 1:
        out.update(turns=[_turn("user", users[0])], answer_turns=[_continued(a, users) for a in own],
                   reference_turns=_continued(ref, users) if ref else None)
    if question["reference"] is not None:
        out["question_reference"] = question["reference"]
    return out


def _continued(said: list[str], users: list[str]) -> list[dict]:
    """One side's turns after the first user turn and before the row's question: a1, u2, a2, ..."""
    out = []
    for i, answer in enumerate(said[:-1]):
        out += [_turn("user", users[i])] if i else []
        out.append(_turn("assistant", answer))
    return out


def _turn(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def _turns(answers: AnswerFile, qid: str, turn: int, fix: str) -> list[str]:
    """A model's (or the reference's) first `turn` answers to a question, or JoinError saying why not."""
    row, said = lookup(answers, qid, fix)
    if len(said) < turn:
        raise JoinError(f"{answers.path} row {row}: field 'choices[0].turns': has {len(said)} answer(s); "
                        f"turn {turn} needs {turn}")
    return said[:turn]


def _question(value, error: str | None, seen: dict[str, int], row: int) -> dict | None:
    """A question.jsonl line, checked (RowError names the field); None where it is not JSON (`error`)."""
    if error is not None:
        return None
    if not isinstance(value, dict):
        raise f.RowError("question_id", f"expected a JSON object with one, got {f.kind(value)}")
    qid = f.input_id(value, "question_id")
    if qid is None:
        raise f.RowError("question_id", "missing; every question needs its id")
    if qid in seen:
        raise f.RowError("question_id", f"{qid} repeats row {seen[qid]}'s; give every question its own id")
    seen[qid] = row
    category = f.text(value, "category")
    users = value.get("turns")
    if not isinstance(users, list) or not users:
        raise f.RowError("turns", f"expected a non-empty list of user turns, got {f.kind(users)}")
    f.answers(users, "turns")
    return {"key": qid, "question_id": value["question_id"], "category": category, "turns": users,
            "reference": value.get("reference")}


def _load(read_text: Callable[[str], str], path: str) -> AnswerFile:
    """An answer file (model or reference): each question's answer turns."""
    return load_answers(read(read_text, path, LAYOUT), path, _answer_turns)


def _answer_turns(value: dict) -> list[str]:
    choices = value.get("choices")
    if not isinstance(choices, list) or not choices:
        raise f.RowError("choices", f"expected a non-empty list, got {f.kind(choices)}")
    if not isinstance(choices[0], dict):
        raise f.RowError("choices[0]", f"expected an object with turns, got {f.kind(choices[0])}")
    said = choices[0].get("turns")
    if not isinstance(said, list) or not said:
        raise f.RowError("choices[0].turns", f"expected a non-empty list of answers, got {f.kind(said)}")
    return f.answers(said, "choices[0].turns")


def _models(list_dir: Callable[[str], list[str]], folder: str, models: list[str] | None) -> list[str]:
    found = jsonl_names(list_dir, folder)
    if not found:
        raise ValueError(f"{folder}: no <model>.jsonl answer files; {LAYOUT}")
    return choose_models(found, models, folder)


def _reference_file(list_dir: Callable[[str], list[str]], folder: str) -> str | None:
    found = jsonl_names(list_dir, folder)
    if REFERENCE_MODEL in found:
        return f"{folder}/{REFERENCE_MODEL}.jsonl"
    if len(found) > 1:
        raise ValueError(f"{folder}: {len(found)} reference answer files ({', '.join(found)}) and no "
                         f"{REFERENCE_MODEL}.jsonl; FastChat reads its judge's ({REFERENCE_MODEL}): keep one")
    return f"{folder}/{found[0]}.jsonl" if found else None


def adapt(rec: dict) -> tuple[dict, dict]:
    """A joined record -> canonical values, and meta (question_id, category, turn, models, ...)."""
    if rec.get("error") is not None:
        raise JoinError(rec["error"])
    answers = f.answers(rec.get("answers"), "answers")
    values = {
        "question": f.text(rec, "question"),
        "answers": answers,
        "reference": f.optional_text(rec.get("reference"), "reference"),
        "gold_verdict": None,
        "gold_scores": None,
        "turns": dialogue.read_turns(rec.get("turns"), "turns"),
        "answer_turns": _per_answer(rec.get("answer_turns"), len(answers)),
        "reference_turns": dialogue.read_turns(rec.get("reference_turns"), "reference_turns"),
    }
    return values, f.rest(rec, {"id", "error", *values})


def _per_answer(value, n_answers: int) -> list[list[dict]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != n_answers:
        raise f.RowError("answer_turns", f"expected one list of turns per answer ({n_answers}), got {f.kind(value)}")
    return [dialogue.read_turns(turns, f"answer_turns[{i}]") or [] for i, turns in enumerate(value)]
