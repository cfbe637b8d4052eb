"""Input files -> canonical rows.

Every record of an input file becomes exactly one canonical row (a dict with all of
``CANONICAL_COLUMNS``, Arrow-friendly types). A record that cannot be used is not dropped
and never raises: its row carries ``error`` = "<source> row <row>: field '<field>': <what is
wrong>" and ``raw`` = the original record text, so the pipeline can quarantine it.
Only configuration mistakes (unknown format / mode / policy, a malformed ``fields`` mapping)
raise ``ValueError``, because they would spoil every row alike.

Reading (``read_records``), by extension, optionally ``.gz``:
- ``.jsonl``: one JSON value per line; blank lines are skipped and not counted in ``row``.
- ``.json``: a JSON list; ``row`` is the element index. A document that does not parse is
  retried as JSON lines when its first non-blank line is a JSON object (JSON lines saved as
  .json); otherwise, as for a top-level value that is not a list, the file yields a single
  "invalid JSON file" error row.
- ``.parquet``: table rows as Python dicts.
For JSON lines ``raw`` is the line exactly as in the file; otherwise the record re-serialised.

``fields`` ({target: source or [sources]}) renames input keys before the format adapter,
so targets are the adapter's input keys. A list gathers several columns into one list (e.g.
answers). When the file also has a key named like a target, that key is kept in meta as
"<target>_unmapped" rather than silently overwritten.

Ids: the input id (strings kept, integers stringified) or, when absent/null/blank,
f"{id_prefix}:{row}" with id_prefix defaulting to the file name without extensions. Derived
ids are unique within a file; give files that share a name distinct prefixes.

Adapters (keys not listed go to ``meta``):
- ``canonical``: id, question, answers (list of strings), reference (string),
  gold_verdict (1/2/... or 0/"tie" in any case), gold_scores (one number per answer).
- ``judgelm`` (JudgeLM-100K / val): question_id -> id, question_body -> question,
  answer1_body, answer2_body, ... (consecutive) -> answers, reference as {"text": ...} or a
  string, teacher ``score`` -> gold_scores and gold_verdict (best score; a shared best is
  "tie"). A score with a negative value is JudgeLM's "teacher output unparseable" marker
  ([-1, -1]): gold stays None and ``score`` is kept in meta. text, score_w_reference and
  text_w_reference stay in meta, with gold_scores_w_reference / gold_verdict_w_reference
  derived the same way.
- ``pandalm`` (testset-v1.json): idx -> id; question = instruction, plus "\\n\\n" + input
  when input is not blank: PandaLM's prompt shows instruction and input as separate
  sections, and joining them with a blank line keeps both visible to a JudgeLM judge, whose
  prompt has a single question slot. answers = [response1, response2]; gold_verdict = the
  strict majority of annotator1..N (1 -> "1", 2 -> "2", 0 -> "tie"; none -> None); the
  annotators, cmp_key and motivation_app stay in meta. testset-v1 has 6 items whose answer
  "True" was stored as JSON true: a bool/number response is turned into text the way
  PandaLM's own prompt formatting shows it (str(True) == "True"), named in
  meta["coerced_to_text"], rather than quarantining annotated items.
- ``llmbar`` (Dataset/<group>/<subset>/dataset.json): input -> question,
  [output_1, output_2] -> answers, label -> gold_verdict. LLMBar has no ids (derived).
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

CANONICAL_COLUMNS: tuple[str, ...] = (
    "id", "question", "answers", "reference", "gold_verdict", "gold_scores",
    "meta", "source", "row", "raw", "error",
)
FORMATS = ("canonical", "judgelm", "pandalm", "llmbar")
MODES = ("pairwise", "multi", "single")
REFERENCE_POLICIES = ("always", "auto", "never")
MAX_ANSWERS = 19
RAW_LIMIT = 100_000

_ANSWER_COUNTS = {"pairwise": (2, 2), "multi": (2, MAX_ANSWERS), "single": (1, 1)}
_ID_KEYS = {"canonical": "id", "judgelm": "question_id", "pandalm": "idx", "llmbar": "id"}
_JUDGELM_ANSWER = re.compile(r"answer(\d+)_body")
_ANNOTATOR = re.compile(r"annotator\d+")


class _RowError(Exception):
    """A record is unusable; adapt_records turns it into the row's `error`."""

    def __init__(self, field: str, what: str, index: int | None = None) -> None:
        at = f"[{index}]" if index is not None else ""
        super().__init__(f"field '{field}'{at}: {what}")


# ---------------------------------------------------------------- reading

def read_records(data: bytes, path: str) -> Iterator[tuple[int, dict | None, str | None]]:
    """Yield (row, record, None) per record, or (row, None, reason) where it cannot be read."""
    for row, record, _raw, error in _records(data, path):
        yield row, record, error


def _records(data: bytes, path: str) -> Iterator[tuple[int, dict | None, str, str | None]]:
    """Like read_records, plus the record's raw text (truncated) for quarantine."""
    for row, value, text, error in _parse(data, path):
        if error is None and not isinstance(value, dict):
            error = f"expected a JSON object, got {_kind(value)}"
        raw = text if text is not None else _dumps(value)
        yield row, value if error is None else None, raw[:RAW_LIMIT], error


def _parse(data: bytes, path: str) -> Iterator[tuple[int, Any, str | None, str | None]]:
    """Yield (row, parsed value, source text or None, error or None)."""
    name = path.lower()
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            yield 0, None, "", f"invalid gzip file: {e}"
            return
        name = name[:-3]
    if name.endswith(".jsonl"):
        yield from _json_lines(data)
    elif name.endswith(".json"):
        yield from _json_document(data)
    elif name.endswith(".parquet"):
        yield from _parquet(data)
    else:
        yield 0, None, "", "unsupported file type; expected .jsonl, .json or .parquet (optionally .gz)"


def _json_lines(data: bytes) -> Iterator[tuple[int, Any, str | None, str | None]]:
    row = 0
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            item = (row, None, line.decode("utf-8", "replace"), f"invalid JSON: not UTF-8 text ({e})")
        else:
            try:
                item = (row, json.loads(text), text, None)
            except json.JSONDecodeError as e:
                item = (row, None, text, f"invalid JSON: {e}")
        yield item
        row += 1


def _json_document(data: bytes) -> Iterator[tuple[int, Any, str | None, str | None]]:
    # raw for a file-level error: enough bytes for RAW_LIMIT chars of up to 4 UTF-8 bytes each
    whole_text = data[:RAW_LIMIT * 4].decode("utf-8", "replace")
    try:
        value = json.loads(data)  # bytes: json detects UTF-8/16/32 and a BOM
    except ValueError as e:
        lines = list(_json_lines(data))
        if lines and isinstance(lines[0][1], dict):
            yield from lines
        else:
            yield 0, None, whole_text, f"invalid JSON file: {e}"
        return
    if not isinstance(value, list):
        yield 0, None, whole_text, f"invalid JSON file: expected a list of objects, got {_kind(value)}"
        return
    for row, item in enumerate(value):
        yield row, item, None, None


def _parquet(data: bytes) -> Iterator[tuple[int, Any, str | None, str | None]]:
    try:
        rows = pq.read_table(pa.BufferReader(data)).to_pylist()
    except (pa.ArrowException, OSError, ValueError) as e:
        yield 0, None, "", f"invalid Parquet file: {e}"
        return
    for row, item in enumerate(rows):
        yield row, item, None, None


# ---------------------------------------------------------------- adapting

def adapt_records(
    data: bytes,
    path: str,
    fmt: str,
    fields: dict[str, str | list[str]] | None = None,
    id_prefix: str | None = None,
) -> list[dict]:
    """Read a file and return one canonical row per record, broken records included."""
    if fmt not in _ADAPTERS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    _check_fields(fields)
    adapter, id_key = _ADAPTERS[fmt], _ID_KEYS[fmt]
    prefix = id_prefix if id_prefix is not None else _stem(path)
    rows = []
    for row, record, raw, error in _records(data, path):
        out = dict.fromkeys(CANONICAL_COLUMNS)
        out.update(id=f"{prefix}:{row}", meta="{}", source=path, row=row, raw=raw)
        if record is not None:
            try:
                record = _apply_fields(record, fields)
                out["id"] = _input_id(record, id_key) or out["id"]
                values, meta = adapter(record)
                out.update(values, meta=_dumps(meta, sort_keys=True))
            except _RowError as e:
                error = str(e)
        if error is not None:
            out["error"] = f"{path} row {row}: {error}"
        rows.append(out)
    return rows


def _check_fields(fields: dict[str, str | list[str]] | None) -> None:
    for target, source in (fields or {}).items():
        names = [source] if isinstance(source, str) else source
        if not isinstance(target, str) or not isinstance(names, list) or not names \
                or not all(isinstance(n, str) for n in names):
            raise ValueError(f"fields[{target!r}] must be a key name or a non-empty list of key names, got {source!r}")


def _apply_fields(record: dict, fields: dict[str, str | list[str]] | None) -> dict:
    if not fields:
        return record
    used = {n for source in fields.values() for n in ([source] if isinstance(source, str) else source)}
    out = {k: v for k, v in record.items() if k not in used}
    for target, source in fields.items():
        names = [source] if isinstance(source, str) else source
        for name in names:
            if name not in record:
                raise _RowError(target, f"source key '{name}' is missing; fix the file or the field mapping")
        if target in out:  # the file's own key of that name was not chosen: keep it in meta
            out[f"{target}_unmapped"] = out.pop(target)
        out[target] = record[source] if isinstance(source, str) else [record[n] for n in names]
    return out


def _input_id(record: dict, key: str) -> str | None:
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        return value
    number = _int(value)
    if number is None:
        raise _RowError(key, f"expected a string or integer id, got {_kind(value)}")
    return str(number)


def _canonical(rec: dict) -> tuple[dict, dict]:
    question = _text(rec, "question")
    if "answers" not in rec:
        raise _RowError("answers", "missing; give a list of answer strings")
    answers = _answers(rec["answers"], "answers")
    values = {
        "question": question,
        "answers": answers,
        "reference": _optional_text(rec.get("reference"), "reference"),
        "gold_verdict": _verdict(rec.get("gold_verdict"), "gold_verdict", len(answers)),
        "gold_scores": _scores(rec.get("gold_scores"), "gold_scores", len(answers)),
    }
    return values, _rest(rec, {"id", *values})


def _judgelm(rec: dict) -> tuple[dict, dict]:
    question = _text(rec, "question_body")
    n = 0
    while f"answer{n + 1}_body" in rec:
        n += 1
    stray = [k for k in rec if (m := _JUDGELM_ANSWER.fullmatch(k)) and int(m[1]) > n]
    if n == 0 or stray:
        what = f"missing while '{stray[0]}' is present; number answers 1, 2, 3, ..." if stray else "missing"
        raise _RowError(f"answer{n + 1}_body", what)
    answers = [_text(rec, f"answer{i}_body") for i in range(1, n + 1)]

    reference = rec.get("reference")
    if isinstance(reference, dict):  # JudgeLM stores {"text": ...}
        reference = reference.get("text")
    reference = _optional_text(reference, "reference", 'a string or {"text": string}')

    scores = _teacher_scores(rec.get("score"), "score", n)
    meta = _rest(rec, {"question_id", "question_body", "reference", "score", *(f"answer{i}_body" for i in range(1, n + 1))})
    if isinstance(rec.get("reference"), dict) and set(rec["reference"]) - {"text"}:
        meta["reference"] = rec["reference"]  # keys besides "text" would otherwise be lost
    if "score" in rec and scores is None:
        meta["score"] = rec["score"]  # unparseable teacher output: not gold, but kept
    if "score_w_reference" in rec:
        with_ref = _teacher_scores(rec["score_w_reference"], "score_w_reference", n)
        meta["gold_scores_w_reference"] = with_ref
        meta["gold_verdict_w_reference"] = _best(with_ref)
    values = {"question": question, "answers": answers, "reference": reference,
              "gold_verdict": _best(scores), "gold_scores": scores}
    return values, meta


def _pandalm(rec: dict) -> tuple[dict, dict]:
    question = _text(rec, "instruction")
    extra = _optional_text(rec.get("input"), "input") or ""
    if extra.strip():
        question = f"{question}\n\n{extra}"
    coerced: list[str] = []
    answers = [_pandalm_response(rec, key, coerced) for key in ("response1", "response2")]
    labels = [_verdict(rec[k], k, 2) for k in sorted(rec) if _ANNOTATOR.fullmatch(k)]
    votes = Counter(label for label in labels if label is not None)
    gold = None
    if votes:
        label, count = votes.most_common(1)[0]
        gold = label if 2 * count > sum(votes.values()) else None
    values = {"question": question, "answers": answers, "reference": None,
              "gold_verdict": gold, "gold_scores": None}
    meta = _rest(rec, {"idx", "instruction", "input", "response1", "response2"})
    if coerced:
        meta["coerced_to_text"] = coerced
    return values, meta


def _pandalm_response(rec: dict, key: str, coerced: list[str]) -> str:
    value = rec.get(key)
    if isinstance(value, (bool, int, float)):  # testset-v1 stores a bare "True" answer as JSON true
        coerced.append(key)
        return str(value)
    return _text(rec, key)


def _llmbar(rec: dict) -> tuple[dict, dict]:
    question = _text(rec, "input")
    answers = [_text(rec, "output_1"), _text(rec, "output_2")]
    values = {"question": question, "answers": answers, "reference": None,
              "gold_verdict": _verdict(rec.get("label"), "label", 2), "gold_scores": None}
    return values, _rest(rec, {"id", "input", "output_1", "output_2", "label"})


_ADAPTERS: dict[str, Callable[[dict], tuple[dict, dict]]] = {
    "canonical": _canonical, "judgelm": _judgelm, "pandalm": _pandalm, "llmbar": _llmbar,
}


# ---------------------------------------------------------------- field checks

def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _int(value: Any) -> int | None:
    """An integer, also from an integer-valued float (pandas-written Parquet turns int columns with nulls into floats)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _text(rec: dict, key: str) -> str:
    if key not in rec:
        raise _RowError(key, "missing")
    value = rec[key]
    if not isinstance(value, str):
        raise _RowError(key, f"expected a string, got {_kind(value)}")
    return value


def _optional_text(value: Any, field: str, expected: str = "a string") -> str | None:
    if value is not None and not isinstance(value, str):
        raise _RowError(field, f"expected {expected} or null, got {_kind(value)}")
    return value


def _answers(value: Any, field: str) -> list[str]:
    if not isinstance(value, list):
        raise _RowError(field, f"expected a list of strings, got {_kind(value)}")
    for i, answer in enumerate(value):
        if not isinstance(answer, str):
            raise _RowError(field, f"expected a string, got {_kind(answer)}", i)
    return value


def _verdict(value: Any, field: str, n_answers: int) -> str | None:
    """Normalise a verdict to "1".."N" or "tie"; 0 means tie, as in PandaLM."""
    if value is None:
        return None
    number = _int(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "tie":
            return "tie"
        if text.isascii() and text.isdigit():
            number = int(text)
    if number == 0:
        return "tie"
    if number is not None and 1 <= number <= n_answers:
        return str(number)
    raise _RowError(field, f"expected the number of the better answer (1..{n_answers}), 0 or 'tie', got {value!r}")


def _scores(value: Any, field: str, n_answers: int) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _RowError(field, f"expected a list of numbers, got {_kind(value)}")
    for i, score in enumerate(value):
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise _RowError(field, f"expected a number, got {_kind(score)}", i)
    if len(value) != n_answers:
        raise _RowError(field, f"has {len(value)} scores for {n_answers} answers; give one score per answer")
    return [float(score) for score in value]


def _teacher_scores(value: Any, field: str, n_answers: int) -> list[float] | None:
    """JudgeLM teacher scores; None when the teacher output was unparseable (negative marker, e.g. [-1, -1])."""
    scores = _scores(value, field, n_answers)
    return None if scores is None or min(scores) < 0 else scores


def _best(scores: list[float] | None) -> str | None:
    if not scores:
        return None
    top = max(scores)
    winners = [i for i, score in enumerate(scores) if score == top]
    return "tie" if len(winners) > 1 else str(winners[0] + 1)


def _rest(rec: dict, mapped: set[str]) -> dict:
    return {k: v for k, v in rec.items() if k not in mapped}


def _dumps(value: Any, sort_keys: bool = False) -> str:
    # default=str: Parquet can hold dates, decimals and bytes that JSON has no type for
    return json.dumps(value, ensure_ascii=False, sort_keys=sort_keys, default=str)


def _stem(path: str) -> str:
    name = PurePosixPath(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return PurePosixPath(name).stem


# ---------------------------------------------------------------- mode checks

def validate_row(row: dict, mode: str, reference_policy: str) -> str | None:
    """Why an adapted row cannot be judged in `mode` under `reference_policy`, or None."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    if reference_policy not in REFERENCE_POLICIES:
        raise ValueError(f"unknown reference_policy {reference_policy!r}; expected one of {REFERENCE_POLICIES}")
    if row["error"] is not None:
        return row["error"]
    where = f"{row['source']} row {row['row']}"
    question = row["question"]
    if not isinstance(question, str) or not question.strip():
        return f"{where}: field 'question': empty; give the question text"
    n = len(row["answers"] or [])
    low, high = _ANSWER_COUNTS[mode]
    if not low <= n <= high:
        need = f"exactly {low}" if low == high else f"{low} to {high}"
        hint = ""
        if n > high and mode != "multi":
            hint = "; use mode 'multi' to compare more answers" if mode == "pairwise" else "; use mode 'pairwise' or 'multi'"
        return f"{where}: field 'answers': {mode} mode needs {need} answer(s), got {n}{hint}"
    has_reference = isinstance(row["reference"], str) and bool(row["reference"].strip())
    if mode == "single" and not has_reference:
        return (f"{where}: field 'reference': missing; single mode grades the answer against the reference "
                "(shown to the judge as Assistant 1), so every row needs one")
    if reference_policy == "always" and not has_reference:
        return (f"{where}: field 'reference': missing; reference_policy 'always' needs one on every row "
                "(use 'auto' to judge rows without a reference)")
    return None


def duplicate_reason(row: dict, first_source: str, first_row: int) -> str:
    """Reason for a row whose id an earlier row already used."""
    return (f"{row['source']} row {row['row']}: field 'id': duplicate id {row['id']!r}, first used by "
            f"{first_source} row {first_row}; give every record a unique id")
