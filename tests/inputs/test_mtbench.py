"""The mtbench input format: FastChat's data/mt_bench folder joined into rows.

The folder is built in tmp_path from the real MT-bench questions and GPT-4 reference answers
(../shared/data/fastchat_mtbench) and made-up answers of three models, alpha, beta and gamma.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from judgelm_ray import inputs, modes
from judgelm_ray.families import mtbench as family
from judgelm_ray.inputs import mtbench, pairing
from judgelm_ray.inputs.fields import RowError

MODELS = ("alpha", "beta", "gamma")


def answer_line(model: str, qid: int, turns: list[str] | None = None) -> str:
    turns = turns if turns is not None else [f"{model} on {qid}, turn 1 {{question}}", f"{model} on {qid}, turn 2"]
    return json.dumps({"question_id": qid, "answer_id": f"{model}-{qid}", "model_id": model,
                       "choices": [{"index": 0, "turns": turns}], "tstamp": 0.0})


def questions(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "question.jsonl").read_text().splitlines()]


def write_answers(folder: Path, model: str, lines: list[str]) -> None:
    (folder / "model_answer").mkdir(exist_ok=True)
    (folder / "model_answer" / f"{model}.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture
def folder(shared_data, tmp_path) -> Path:
    source = shared_data / "fastchat_mtbench" / "mt_bench"
    out = tmp_path / "mt_bench"
    (out / "reference_answer").mkdir(parents=True)
    shutil.copy(source / "question.jsonl", out / "question.jsonl")
    shutil.copy(source / "reference_answer" / "gpt-4.jsonl", out / "reference_answer" / "gpt-4.jsonl")
    ids = [q["question_id"] for q in questions(out)]
    for model in MODELS:
        write_answers(out, model, [answer_line(model, qid) for qid in ids])
    return out


def list_dir(path: str) -> list[str]:
    return sorted(p.name for p in Path(path).iterdir()) if Path(path).is_dir() else []


def join(folder: Path, models: list[str] | None = None, pairs: tuple[int | None, int] | None = None) -> list[dict]:
    return list(mtbench.join(lambda p: Path(p).read_text(), list_dir, str(folder), models, pairs))


def by_id(records: list[dict]) -> dict[str, dict]:
    out = {r["id"]: r for r in records}
    assert len(out) == len(records)
    return out


def test_all_pairs_and_turns(folder):
    records = join(folder)
    assert len(records) == 80 * 3 * 2
    assert [r for r in records if "error" in r] == []
    assert [r["id"] for r in records[:6]] == ["81:alpha:beta:turn1", "81:alpha:beta:turn2", "81:alpha:gamma:turn1",
                                              "81:alpha:gamma:turn2", "81:beta:gamma:turn1", "81:beta:gamma:turn2"]
    assert len(by_id(records)) == 480
    json.dumps(records)  # plain records


def test_record_shapes(folder):
    found = by_id(join(folder))
    q81, q111 = [q for q in questions(folder) if q["question_id"] in (81, 111)]
    assert found["81:alpha:beta:turn1"] == {
        "id": "81:alpha:beta:turn1", "question_id": 81, "category": "writing", "turn": 1, "models": ["alpha", "beta"],
        "question": q81["turns"][0], "answers": ["alpha on 81, turn 1 {question}", "beta on 81, turn 1 {question}"],
        "reference": None, "turns": None, "answer_turns": None, "reference_turns": None}
    assert found["81:alpha:beta:turn2"] == {
        "id": "81:alpha:beta:turn2", "question_id": 81, "category": "writing", "turn": 2, "models": ["alpha", "beta"],
        "question": q81["turns"][1], "answers": ["alpha on 81, turn 2", "beta on 81, turn 2"], "reference": None,
        "turns": [{"role": "user", "content": q81["turns"][0]}],
        "answer_turns": [[{"role": "assistant", "content": "alpha on 81, turn 1 {question}"}],
                         [{"role": "assistant", "content": "beta on 81, turn 1 {question}"}]],
        "reference_turns": None}
    gpt4 = [json.loads(line) for line in (folder / "reference_answer" / "gpt-4.jsonl").open()]
    [ref] = [r["choices"][0]["turns"] for r in gpt4 if r["question_id"] == 111]
    turn2 = found["111:beta:gamma:turn2"]
    assert (turn2["category"], turn2["question"], turn2["reference"]) == ("math", q111["turns"][1], ref[1])
    assert turn2["reference_turns"] == [{"role": "assistant", "content": ref[0]}]
    assert turn2["question_reference"] == q111["reference"]  # question.jsonl's own, kept for meta
    assert found["111:beta:gamma:turn1"]["reference"] == ref[0]


def test_references_as_fastchat_shows_them(folder):
    records = join(folder)
    with_reference = {r["question_id"] for r in records if r["reference"] is not None}
    gpt4 = {json.loads(line)["question_id"] for line in (folder / "reference_answer" / "gpt-4.jsonl").open()}
    assert with_reference == gpt4 and len(gpt4) == 30
    assert {r["category"] for r in records if r["reference"] is not None} == set(mtbench.NEED_REF_CATS)
    # question 95 (roleplay) has its own reference in question.jsonl, which FastChat's judge never shows
    q95 = by_id(records)["95:alpha:beta:turn1"]
    assert q95["reference"] is None and len(q95["question_reference"]) == 2


def test_models_filter(folder):
    records = join(folder, ["gamma", "alpha"])  # the given order: gamma is answer 1
    assert len(records) == 160 and {tuple(r["models"]) for r in records} == {("gamma", "alpha")}
    assert by_id(records)["81:gamma:alpha:turn1"]["answers"][0].startswith("gamma on 81")
    single = by_id(join(folder, ["beta"]))  # one model: single-answer grading
    assert len(single) == 160
    turn2 = single["81:beta:turn2"]
    assert (turn2["answers"], turn2["answer_turns"]) == (
        ["beta on 81, turn 2"], [[{"role": "assistant", "content": "beta on 81, turn 1 {question}"}]])
    with pytest.raises(ValueError, match="models: no answers of delta in .*model_answer; it has alpha, beta, gamma"):
        join(folder, ["alpha", "delta"])
    with pytest.raises(ValueError, match="models: expected one or more different model names"):
        join(folder, ["alpha", "alpha"])


def test_pairs_drawn_per_question(folder):
    records = join(folder, pairs=(1, 5))
    assert len(records) == 80 * 1 * 2 and [r for r in records if "error" in r] == []
    drawn = {}
    for r in records:
        drawn.setdefault(str(r["question_id"]), set()).add(tuple(r["models"]))
    # both turns of a question by the same pair: the one pick_pairs draws for the question
    assert drawn == {q: set(pairing.pick_pairs(list(MODELS), q, 1, 5)) for q in drawn}
    assert len({pair for pairs in drawn.values() for pair in pairs}) == 3  # questions draw different pairs
    whole = by_id(join(folder))
    assert all(whole[r["id"]] == r for r in records)  # a drawn pair's rows are the all-pairs join's
    assert join(folder, pairs=(1, 5)) == records and join(folder, pairs=(1, 6)) != records
    assert join(folder, pairs=(2, 5))[:4] == [whole[i] for i in [  # kept in combinations order
        f"81:{pair}:turn{t}" for pair in [":".join(p) for p in pairing.pick_pairs(list(MODELS), "81", 2, 5)]
        for t in (1, 2)]]
    assert join(folder, pairs=(3, 5)) == join(folder, pairs=(None, 5)) == join(folder)  # all pairs
    assert join(folder, ["beta"], pairs=(1, 5)) == join(folder, ["beta"])  # single grading has no pairs
    on_disk = list(inputs.joined_records("mtbench", str(folder), None, (1, 5)))
    assert on_disk == records


def test_missing_answers_and_broken_lines_spoil_only_their_rows(folder):
    path = folder / "model_answer" / "gamma.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:40]  # question 82, cut off after its id
    lines[2] = answer_line("gamma", 83, ["only turn 1"])
    lines[3] = answer_line("gamma", 84, ["fine", 5])
    lines[4] = '{"question_id": 85, "choices": []}'
    lines[0] = "not json"  # question 81's line: no id left to tell
    path.write_text("\n".join(lines) + "\n")
    records = join(folder)
    assert len(records) == 480
    errors = {r["id"]: r["error"] for r in records if "error" in r}
    gamma = f"{folder}/model_answer/gamma.jsonl"
    assert errors == {
        **{f"81:{pair}:turn{t}": f"{gamma} row 0: invalid JSON: Expecting value: line 1 column 1 (char 0); question 81 "
           "has no readable answer in the file" for pair in ("alpha:gamma", "beta:gamma") for t in (1, 2)},
        **{f"82:{pair}:turn{t}": f"{gamma} row 1: invalid JSON: Unterminated string starting at: line 1 column 34 "
           "(char 33)" for pair in ("alpha:gamma", "beta:gamma") for t in (1, 2)},
        **{f"83:{pair}:turn2": f"{gamma} row 2: field 'choices[0].turns': has 1 answer(s); turn 2 needs 2"
           for pair in ("alpha:gamma", "beta:gamma")},
        **{f"84:{pair}:turn{t}": f"{gamma} row 3: field 'choices[0].turns'[1]: expected a string, got int"
           for pair in ("alpha:gamma", "beta:gamma") for t in (1, 2)},
        **{f"85:{pair}:turn{t}": f"{gamma} row 4: field 'choices': expected a non-empty list, got list"
           for pair in ("alpha:gamma", "beta:gamma") for t in (1, 2)},
    }
    assert by_id(records)["83:alpha:gamma:turn1"]["answers"] == ["alpha on 83, turn 1 {question}", "only turn 1"]
    assert errors.keys().isdisjoint(by_id(join(folder, ["alpha", "beta"])))  # the other pair is whole
    # without unreadable lines a missing answer says which question it is
    path.write_text("\n".join(line for line in path.read_text().splitlines()[5:]) + "\n")
    assert by_id(join(folder, ["gamma"]))["81:gamma:turn1"]["error"] == (
        f"{gamma}: field 'question_id': no answer to question 81; add it, or pick models that have one")


def test_broken_question_lines(folder):
    good = questions(folder)[0]
    lines = [json.dumps(good), "{broken", json.dumps(good), json.dumps({**good, "question_id": 7, "category": None}),
             json.dumps({**good, "question_id": 8, "turns": "one turn"}), "[1, 2]", json.dumps({"category": "x"})]
    (folder / "question.jsonl").write_text("\n".join(lines))
    records = join(folder, ["alpha", "beta"])
    q = f"{folder}/question.jsonl"
    assert [r["id"] for r in records[:2]] == ["81:alpha:beta:turn1", "81:alpha:beta:turn2"]
    assert records[2:] == [
        {"id": "question.jsonl:1", "error": f"{q} row 1: invalid JSON: Expecting property name enclosed in double "
                                            "quotes: line 1 column 2 (char 1)"},
        {"id": "question.jsonl:2", "error": f"{q} row 2: field 'question_id': 81 repeats row 0's; give every question "
                                            "its own id"},
        {"id": "question.jsonl:3", "error": f"{q} row 3: field 'category': expected a string, got null"},
        {"id": "question.jsonl:4", "error": f"{q} row 4: field 'turns': expected a non-empty list of user turns, "
                                            "got str"},
        {"id": "question.jsonl:5", "error": f"{q} row 5: field 'question_id': expected a JSON object with one, "
                                            "got list"},
        {"id": "question.jsonl:6", "error": f"{q} row 6: field 'question_id': missing; every question needs its id"},
    ]


def test_reference_files(folder):
    refs = folder / "reference_answer"
    lines = (refs / "gpt-4.jsonl").read_text().splitlines()
    (refs / "gpt-4.jsonl").write_text("\n".join(line for line in lines if '"question_id": 111,' not in line))
    errors = {r["id"]: r["error"] for r in join(folder, ["alpha"]) if "error" in r}
    assert errors == {f"111:alpha:turn{t}": f"{refs}/gpt-4.jsonl: field 'question_id': no answer to question 111; "
                      "FastChat judges math questions against one: add it" for t in (1, 2)}
    (refs / "gpt-4.jsonl").rename(refs / "claude-v1.jsonl")  # the folder's only file is the reference
    assert sum(r.get("reference") is not None for r in join(folder, ["alpha"])) == 29 * 2
    shutil.copy(refs / "claude-v1.jsonl", refs / "gpt-3.5-turbo.jsonl")
    with pytest.raises(ValueError, match="2 reference answer files .* and no gpt-4.jsonl"):
        join(folder, ["alpha"])
    shutil.rmtree(refs)  # no reference answers: no row shows one
    records = join(folder, ["alpha"])
    assert [r for r in records if "error" in r or r["reference"] is not None] == []


def test_join_without_shared_data(tmp_path):
    # the same join on a two-question folder, so a clone without ../shared/data still tests it
    (tmp_path / "question.jsonl").write_text(
        json.dumps({"question_id": 1, "category": "math", "turns": ["1+1?", "Times 3?"]}) + "\n"
        + json.dumps({"question_id": 2, "category": "writing", "turns": ["A haiku?"]}) + "\n")
    for model in ("alpha", "beta"):
        write_answers(tmp_path, model, [answer_line(model, 1), answer_line(model, 2, ["haiku"])])
    (tmp_path / "reference_answer").mkdir()
    (tmp_path / "reference_answer" / "gpt-4.jsonl").write_text(answer_line("gpt-4", 1, ["2", "6"]))
    records = by_id(join(tmp_path))
    assert list(records) == ["1:alpha:beta:turn1", "1:alpha:beta:turn2", "2:alpha:beta:turn1"]
    assert {k: records["1:alpha:beta:turn2"][k] for k in ("question", "reference", "reference_turns")} == {
        "question": "Times 3?", "reference": "6", "reference_turns": [{"role": "assistant", "content": "2"}]}
    assert records["2:alpha:beta:turn1"]["answers"] == ["haiku", "haiku"]


def test_configuration_mistakes(tmp_path):
    with pytest.raises(ValueError, match="model_answer: no <model>.jsonl answer files; an mtbench input is a folder"):
        join(tmp_path)
    write_answers(tmp_path, "alpha", [answer_line("alpha", 1)])
    with pytest.raises(ValueError, match="question.jsonl: not found; an mtbench input is a folder"):
        join(tmp_path)


def test_adapt(folder):
    found = by_id(join(folder))
    values, meta = mtbench.adapt(found["111:alpha:beta:turn2"])
    record = found["111:alpha:beta:turn2"]
    assert values == {k: record[k] for k in ("question", "answers", "reference", "turns", "answer_turns",
                                             "reference_turns")} | {"gold_verdict": None, "gold_scores": None}
    assert meta == {"question_id": 111, "category": "math", "turn": 2, "models": ["alpha", "beta"],
                    "question_reference": record["question_reference"]}
    with pytest.raises(RowError, match=r"^gamma\.jsonl row 0: invalid JSON$"):
        mtbench.adapt({"id": "81:alpha:gamma:turn1", "error": "gamma.jsonl row 0: invalid JSON"})
    with pytest.raises(RowError, match=r"^field 'answer_turns': expected one list of turns per answer \(2\), got"):
        mtbench.adapt({**record, "answer_turns": record["answer_turns"][:1]})


def fastchat_prompt(shared_data: Path, folder: Path, qid: int, models: list[str], turn: int, name: str) -> list[dict]:
    """The messages FastChat's run_judge_pair / run_judge_single send GPT-4, built from the raw files."""
    prompts = (shared_data / "fastchat_mtbench" / "judge_prompts.jsonl").open()
    judge = {p["name"]: p for p in map(json.loads, prompts)}[name]
    [question] = [q for q in questions(folder) if q["question_id"] == qid]
    said = [[json.loads(line) for line in (folder / "model_answer" / f"{m}.jsonl").open()
             if json.loads(line)["question_id"] == qid][0]["choices"][0]["turns"] for m in models]
    kwargs = {}
    refs = [json.loads(line) for line in (folder / "reference_answer" / "gpt-4.jsonl").open()]
    if "math" in name:
        [ref] = [r["choices"][0]["turns"] for r in refs if r["question_id"] == qid]
        kwargs.update(ref_answer_1=ref[0], ref_answer_2=ref[1])
    if turn == 2 and len(models) == 2:
        kwargs.update(question_1=question["turns"][0], question_2=question["turns"][1], answer_a_1=said[0][0],
                      answer_b_1=said[1][0], answer_a_2=said[0][1], answer_b_2=said[1][1])
    elif turn == 2:
        kwargs.update(question_1=question["turns"][0], question_2=question["turns"][1], answer_1=said[0][0],
                      answer_2=said[0][1])
    elif len(models) == 2:
        kwargs.update(question=question["turns"][0], answer_a=said[0][0], answer_b=said[1][0])
    else:
        kwargs.update(question=question["turns"][0], answer=said[0][0])
    return [{"role": "system", "content": judge["system_prompt"]},
            {"role": "user", "content": judge["prompt_template"].format(**kwargs)}]


@pytest.mark.parametrize(("qid", "models", "turn", "name"), [
    (81, ["alpha", "beta"], 1, "pair-v2"), (81, ["alpha", "beta"], 2, "pair-v2-multi-turn"),
    (111, ["beta", "gamma"], 1, "pair-math-v1"), (111, ["beta", "gamma"], 2, "pair-math-v1-multi-turn"),
    (123, ["alpha"], 1, "single-math-v1"), (123, ["alpha"], 2, "single-math-v1-multi-turn"),
    (95, ["gamma"], 1, "single-v1"), (95, ["gamma"], 2, "single-v1-multi-turn"),
])
def test_rows_judged_as_fastchat_judges_them(monkeypatch, shared_data, folder, qid, models, turn, name):
    monkeypatch.setitem(inputs.FORMATS, "mtbench", mtbench)
    rows = _read_rows(folder, models)
    from judgelm_ray.judge.stages import validate_row

    row = {r["id"]: r for r in rows}[":".join([str(qid), *models, f"turn{turn}"])]
    assert row["error"] is None and json.loads(row["meta"])["turn"] == turn
    mode = "pairwise" if len(models) == 2 else "single"
    assert validate_row(row, mode, "auto", "mtbench") is None
    use_reference = modes.use_reference(row, "auto")
    assert family.template_name(mode, use_reference, turn == 2) == name
    assert family.prompt(row, mode, use_reference) == fastchat_prompt(shared_data, folder, qid, models, turn, name)


def _read_rows(folder: Path, models: list[str]) -> list[dict]:
    """The joined records of the folder on disk, adapted as `inputs.read_rows` adapts them."""
    records = inputs.joined_records("mtbench", str(folder), models)
    return [inputs.adapt_record((i, r, json.dumps(r), None), str(folder), mtbench, None, "mt_bench")
            for i, r in enumerate(records)]


def test_every_real_row_is_valid_for_the_mtbench_judge(monkeypatch, folder):
    from judgelm_ray.judge.stages import validate_row

    monkeypatch.setitem(inputs.FORMATS, "mtbench", mtbench)
    rows = list(inputs.read_rows(str(folder), "mtbench"))
    assert len(rows) == 480
    assert [r["error"] for r in rows if r["error"]] == []
    assert all(validate_row(r, "pairwise", "auto", "mtbench") is None for r in rows)
