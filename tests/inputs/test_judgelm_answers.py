"""The judgelm-answers input format: a folder of JudgeLM's per-model answer files, paired into judgelm records.

The folder is built in tmp_path: three models' answers to four questions, as JudgeLM's
judgelm/data/JudgeLM/answers/*.jsonl hold them, and reference answers to two of the questions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgelm_ray import inputs
from judgelm_ray.inputs import judgelm_answers
from judgelm_ray.inputs.fields import RowError

QUESTIONS = {0: "My internet service is very expensive. How can I cut it?", 1: "What is 2+2?",
             2: "Name a prime.", 3: "Write a haiku about rain."}
# file name -> the "model" its lines carry (JudgeLM allows a placeholder, or none)
FILES = {"alpaca_judgelm_val": "alpaca-native", "llama_judgelm_val": None, "vicuna_judgelm_val": "vicuna-13b"}
A, L, V = FILES
SCORES = {"logprobs": -7.01, "rouge1": 0.5}


def answer_line(name: str, qid: int, **change) -> str:
    line = {"question_id": qid, "question_body": QUESTIONS[qid], "decoding_method": "top_p_sampling",
            "text": f"{name} answers {qid}", "scores": SCORES}
    if FILES[name] is not None:
        line["model"] = FILES[name]
    return json.dumps({**line, **change})


def write(folder: Path, name: str, lines: list[str]) -> None:
    (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture
def folder(tmp_path) -> Path:
    out = tmp_path / "answers"
    out.mkdir()
    for name in FILES:
        write(out, name, [answer_line(name, qid) for qid in QUESTIONS])
    write(out, "reference", [json.dumps({"question_id": 1, "text": "4"}), json.dumps({"question_id": 2, "text": "7"})])
    (out / "notes.txt").write_text("not an answer file")
    return out


def list_dir(path: str) -> list[str]:
    return sorted(p.name for p in Path(path).iterdir()) if Path(path).is_dir() else []


def join(folder: Path, models: list[str] | None = None, pairs: tuple[int | None, int] | None = None) -> list[dict]:
    return list(judgelm_answers.join(lambda p: Path(p).read_text(), list_dir, str(folder), models, pairs))


def by_id(records: list[dict]) -> dict[str, dict]:
    out = {r["id"]: r for r in records}
    assert len(out) == len(records)
    return out


def test_all_pairs_of_every_question(folder):
    records = join(folder)
    assert [r["id"] for r in records[:4]] == [f"0:{A}:{L}", f"0:{A}:{V}", f"0:{L}:{V}", f"1:{A}:{L}"]
    assert len(by_id(records)) == 4 * 3 and [r for r in records if "error" in r] == []
    json.dumps(records)  # plain records
    assert by_id(records)[f"1:{A}:{V}"] == {
        "id": f"1:{A}:{V}", "question_id": 1, "question_body": "What is 2+2?",
        "answer1_body": f"{A} answers 1", "answer2_body": f"{V} answers 1",
        "answer1_model_id": "alpaca-native", "answer2_model_id": "vicuna-13b",
        "answer1_metadata": {"decoding_method": "top_p_sampling", "scores": SCORES},
        "answer2_metadata": {"decoding_method": "top_p_sampling", "scores": SCORES},
        "reference": {"text": "4"}}
    no_reference = by_id(records)[f"0:{L}:{V}"]
    assert "reference" not in no_reference and no_reference["answer1_model_id"] == L  # no "model": the file's name


def test_models_and_pairs(folder):
    records = join(folder, [V, A])  # the given order: vicuna is answer 1
    assert [r["id"] for r in records] == [f"{q}:{V}:{A}" for q in QUESTIONS]
    assert records[0]["answer1_body"] == f"{V} answers 0"
    drawn = join(folder, pairs=(1, 3))
    assert len(drawn) == 4 and len({r["id"].split(":", 1)[1] for r in drawn}) > 1  # one pair per question
    whole = by_id(join(folder))
    assert all(whole[r["id"]] == r for r in drawn) and join(folder, pairs=(1, 3)) == drawn
    assert join(folder, pairs=(5, 3)) == join(folder)
    assert list(inputs.joined_records("judgelm-answers", str(folder), None, (1, 3))) == drawn


def test_rows_through_the_judgelm_adapter(folder, tmp_path):
    # as the judge job does: the joined records are written as one JSONL file, then read as any input
    path = tmp_path / "judgelm-answers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in inputs.joined_records("judgelm-answers", str(folder))))
    rows = inputs.adapt_records(path.read_bytes(), str(path), "judgelm-answers")
    assert len(rows) == 12 and [r["error"] for r in rows if r["error"]] == []
    row = {r["id"]: r for r in rows}[f"1:{A}:{V}"]
    assert (row["question"], row["answers"], row["reference"]) == (
        "What is 2+2?", [f"{A} answers 1", f"{V} answers 1"], "4")
    assert (row["gold_verdict"], row["gold_scores"]) == (None, None)  # answer files hold no judgment
    assert json.loads(row["meta"]) == {
        "question_id": 1, "answer1_model_id": "alpaca-native", "answer2_model_id": "vicuna-13b",
        "answer1_metadata": {"decoding_method": "top_p_sampling", "scores": SCORES},
        "answer2_metadata": {"decoding_method": "top_p_sampling", "scores": SCORES}}
    # the same canonical values as the judgelm format gives JudgeLM's own preprocessed sample of the pair
    sample = {"question_id": 1, "question_body": "What is 2+2?", "answer1_body": f"{A} answers 1",
              "answer2_body": f"{V} answers 1", "answer1_model_id": "alpaca-native",
              "answer2_model_id": "vicuna-13b", "answer1_metadata": {"decoding_method": "top_p_sampling",
              "scores": SCORES}, "answer2_metadata": {"decoding_method": "top_p_sampling", "scores": SCORES},
              "reference": {"text": "4"}}
    [theirs] = inputs.adapt_records(json.dumps(sample).encode(), "in.jsonl", "judgelm")
    assert {k: theirs[k] for k in ("question", "answers", "reference")} == {
        k: row[k] for k in ("question", "answers", "reference")}
    # read_rows joins and adapts alike
    assert [(r["id"], r["answers"]) for r in inputs.read_rows(str(folder), "judgelm-answers")] == [
        (r["id"], r["answers"]) for r in rows]
    from judgelm_ray.judge.stages import validate_row

    assert all(validate_row(r, "pairwise", "auto", "judgelm") is None for r in rows)


def test_broken_lines_spoil_only_their_rows(folder):
    lines = [answer_line(V, q) for q in QUESTIONS]
    lines[0] = lines[0][:30]  # question 0, cut off after its id
    lines[1] = answer_line(V, 1, text=None)
    lines[2] = answer_line(V, 2, question_body="Name an even prime.")
    del lines[3]  # no answer to question 3
    write(folder, V, lines)
    records = join(folder)
    assert len(records) == 12
    errors = {r["id"]: r["error"] for r in records if "error" in r}
    a, v = f"{folder}/{A}.jsonl", f"{folder}/{V}.jsonl"
    assert errors == {
        **{f"0:{m}:{V}": f"{v} row 0: invalid JSON: Unterminated string starting at: line 1 column 20 (char 19)"
           for m in (A, L)},
        **{f"1:{m}:{V}": f"{v} row 1: field 'text': expected a string, got null" for m in (A, L)},
        f"2:{A}:{V}": f"{v} row 2: field 'question_body': differs from {a} row 2's; answers paired on question 2 "
                      "must answer the same question: fix the question_id or the text",
        f"2:{L}:{V}": f"{v} row 2: field 'question_body': differs from {folder}/{L}.jsonl row 2's; answers paired "
                      "on question 2 must answer the same question: fix the question_id or the text",
        **{f"3:{m}:{V}": f"{v}: field 'question_id': no answer to question 3; add it, or pick models that have one"
           for m in (A, L)},
    }
    assert errors.keys().isdisjoint(by_id(join(folder, [A, L])))  # the other pair is whole
    # a line naming no question is named wherever the file has no answer
    write(folder, V, [answer_line(V, q) for q in (0, 1, 2)] + ["[]"])
    assert by_id(join(folder, [A, V]))[f"3:{A}:{V}"]["error"] == (
        f"{v} row 3: expected a JSON object, got list; question 3 has no readable answer in the file")
    # as does a broken reference line: the question's reference may be on it
    write(folder, "reference", [json.dumps({"question_id": 1, "text": "4"}), "{oops", json.dumps({"question_id": 2})])
    found = by_id(join(folder, [A, L]))
    ref = f"{folder}/reference.jsonl"
    assert found[f"1:{A}:{L}"]["reference"] == {"text": "4"}
    assert found[f"2:{A}:{L}"]["error"] == f"{ref} row 2: field 'text': missing"
    assert found[f"0:{A}:{L}"]["error"] == (
        f"{ref} row 1: invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1); "
        "question 0 has no readable answer in the file")


def test_error_records_become_error_rows(folder, tmp_path):
    write(folder, V, [answer_line(V, q) for q in (0, 1, 2)])
    rows = list(inputs.read_rows(str(folder), "judgelm-answers"))
    bad = {r["id"]: r for r in rows if r["error"]}
    assert set(bad) == {f"3:{A}:{V}", f"3:{L}:{V}"}
    row = bad[f"3:{A}:{V}"]
    assert row["error"] == (f"{folder} row 10: {folder}/{V}.jsonl: field 'question_id': no answer to question 3; "
                            "add it, or pick models that have one")
    assert json.loads(row["raw"])["id"] == f"3:{A}:{V}" and row["answers"] is None
    with pytest.raises(RowError, match=r"^v\.jsonl row 0: invalid JSON$"):
        judgelm_answers.adapt({"id": "0:a:v", "error": "v.jsonl row 0: invalid JSON"})


def test_configuration_mistakes(folder, tmp_path):
    with pytest.raises(ValueError, match="no <model>.jsonl answer files; a judgelm-answers input is a folder"):
        join(tmp_path / "missing")
    empty = tmp_path / "only_reference"
    empty.mkdir()
    write(empty, "reference", [json.dumps({"question_id": 1, "text": "4"})])
    with pytest.raises(ValueError, match="no <model>.jsonl answer files"):
        join(empty)
    with pytest.raises(ValueError, match=f"models: no answers of gpt-4 in {folder}; it has {A}, {L}, {V}"):
        join(folder, [A, "gpt-4"])
    with pytest.raises(ValueError, match=f"models: no answers of reference in {folder}"):
        join(folder, [A, "reference"])
    with pytest.raises(ValueError, match=f"models: {A} alone; judgelm-answers pairs answers, so it needs two or more"):
        join(folder, [A])
    write(empty, A, [answer_line(A, 1)])
    with pytest.raises(ValueError, match="it needs two or more models"):
        join(empty)
