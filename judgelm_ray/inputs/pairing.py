"""Pairing models' answers to the same questions: the pieces the joining formats (mtbench, judgelm-answers) share.

`pick_pairs` chooses which model pairs judge a question. The rest reads per-model answer files by question id,
so that a broken line spoils only the rows of its own question, and names what is wrong in those rows' errors.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import posixpath
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from judgelm_ray.inputs import fields as f
from judgelm_ray.inputs.files import json_lines

# The id of a line that is not valid JSON (cut off, say), so the line spoils only its own question.
_QUESTION_ID = re.compile(r'"question_id"\s*:\s*(?:(\d+)|"([^"\\]*)")')


def pick_pairs(models: list[str], question_key: str, per_question: int | None, seed: int) -> list[tuple[str, str]]:
    """The model pairs that judge one question, in itertools.combinations order (FastChat's); a pair's first model
    is answer 1. All of them when `per_question` is None, else `per_question` drawn without replacement (all when
    fewer exist). The draw ranks each pair by a hash of (seed, question_key, the pair's two names), so it depends on
    nothing else: not on the order of questions or models, not on what was read before (a resumed run draws alike),
    and adding a model only adds pairs that may displace drawn ones."""
    pairs = list(itertools.combinations(models, 2))
    if per_question is None:
        return pairs
    if isinstance(per_question, bool) or not isinstance(per_question, int) or per_question < 1:
        raise ValueError(f"pairs per question: expected a whole number >= 1 or null (all pairs), got {per_question!r}")
    drawn = set(sorted(pairs, key=lambda pair: _rank(seed, question_key, pair))[:per_question])
    return [pair for pair in pairs if pair in drawn]


def _rank(seed: int, question_key: str, pair: tuple[str, str]) -> bytes:
    # JSON keeps the parts apart whatever characters the names hold; sorted: a pair ranks alike in either order.
    return hashlib.sha256(json.dumps([seed, question_key, sorted(pair)]).encode("utf-8")).digest()


class JoinError(f.RowError):
    """A joined record's own error: its text already names the file, row and field."""

    def __init__(self, text: str) -> None:
        Exception.__init__(self, text)


class AnswerFile(NamedTuple):
    """One answer file: question id -> (row, parsed answer or None, error or None), and the lines no question claims."""

    path: str
    by_question: dict[str, tuple[int, Any, str | None]]
    unreadable: list[str]


def load_answers(text: str, path: str, parse: Callable[[dict], Any]) -> AnswerFile:
    """An answer file's lines by question id; `parse(line)` -> the answer kept, or RowError naming the field.
    A later line for the same question wins, as in FastChat's and JudgeLM's dicts."""
    by_question: dict[str, tuple[int, Any, str | None]] = {}
    unreadable: list[str] = []
    for row, value, line, error in json_lines(text.encode("utf-8")):
        where = f"{path} row {row}"
        if error is not None or not isinstance(value, dict):
            why = error or f"expected a JSON object, got {f.kind(value)}"
            found = _QUESTION_ID.search(line or "")
            if found:  # a cut-off line still names its question: spoil that one only
                by_question[found.group(1) or found.group(2)] = (row, None, f"{where}: {why}")
            else:
                unreadable.append(f"{where}: {why}")
            continue
        try:
            qid = f.input_id(value, "question_id")
        except f.RowError as e:
            unreadable.append(f"{where}: {e}")
            continue
        if qid is None:
            unreadable.append(f"{where}: field 'question_id': missing")
            continue
        try:
            by_question[qid] = (row, parse(value), None)
        except f.RowError as e:
            by_question[qid] = (row, None, f"{where}: {e}")
    return AnswerFile(path, by_question, unreadable)


def lookup(answers: AnswerFile, qid: str, fix: str | None) -> tuple[int, Any] | None:
    """A file's answer to question `qid` as (row, answer), or JoinError saying why not. Where the file has no line
    for it: JoinError ending in `fix` (how to add one), or None when `fix` is None (the answer is optional); either
    way JoinError naming an unreadable line when the file has some, as the answer may be on one of them."""
    if qid not in answers.by_question:
        if answers.unreadable:
            more = f" ({len(answers.unreadable) - 1} more unreadable rows)" if len(answers.unreadable) > 1 else ""
            raise JoinError(f"{answers.unreadable[0]}; question {qid} has no readable answer in the file{more}")
        if fix is None:
            return None
        raise JoinError(f"{answers.path}: field 'question_id': no answer to question {qid}; {fix}")
    row, answer, error = answers.by_question[qid]
    if error is not None:
        raise JoinError(error)
    return row, answer


def choose_models(found: list[str], models: list[str] | None, folder: str) -> list[str]:
    """The models to judge: all `found` (sorted by name) unless `models` is given, whose order is kept."""
    if models is None:
        return found
    if not models or len(set(models)) != len(models):
        raise ValueError(f"models: expected one or more different model names, got {models!r}")
    unknown = [m for m in models if m not in found]
    if unknown:
        raise ValueError(f"models: no answers of {', '.join(unknown)} in {folder}; it has {', '.join(found)}")
    return list(models)


def jsonl_names(list_dir: Callable[[str], list[str]], folder: str) -> list[str]:
    """The names (without .jsonl) of a folder's JSON-lines files, sorted; [] for a missing folder."""
    try:
        names = list_dir(folder)
    except FileNotFoundError:
        return []
    return sorted(base[: -len(".jsonl")] for base in map(posixpath.basename, names) if base.endswith(".jsonl"))


def read(read_text: Callable[[str], str], path: str, layout: str) -> str:
    """A file's text; a missing file is a configuration mistake, told with the folder layout expected."""
    try:
        return read_text(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: not found; {layout}") from None
