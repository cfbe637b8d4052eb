"""The synthetic judge dataset: knowable answers, rule scores, held-out items, planted position skew."""

import re

import pytest

from judgelm_ray import verdicts
from judgelm_ray.demo.synthetic import (
    COUNTRIES,
    EVAL_COUNTRIES,
    EVAL_ID_OFFSET,
    generate_judge_records,
    score,
    write_jsonl,
)
from judgelm_ray.inputs import adapt_records

CAPITALS = dict(COUNTRIES)
_CAPITAL_Q = re.compile(r"What is the capital of (.+)\?")
_ARITHMETIC_Q = re.compile(r"What is (\d+) ([-+*]) (\d+)\?")


@pytest.fixture(scope="module")
def train():
    return generate_judge_records(2000, seed=0, split="train")


@pytest.fixture(scope="module")
def held_out():
    return generate_judge_records(500, seed=0, split="eval")


def _truth(question: str) -> str:
    """The right answer, worked out from the question alone."""
    if m := _CAPITAL_Q.fullmatch(question):
        return CAPITALS[m[1]]
    a, op, b = _ARITHMETIC_Q.fullmatch(question).groups()
    return str(int(a) + int(b) if op == "+" else int(a) - int(b) if op == "-" else int(a) * int(b))


def _value(answer: str) -> str:
    """The value an answer gives, terse ("57") or in a full sentence ("The answer is 57.")."""
    return re.sub(r"^The (answer|capital of .+) is (.+)\.$", r"\2", answer)


def test_same_arguments_same_records_and_records_do_not_depend_on_n():
    assert generate_judge_records(50, seed=3) == generate_judge_records(50, seed=3)
    assert generate_judge_records(50, seed=3) != generate_judge_records(50, seed=4)
    assert generate_judge_records(80, seed=3)[:50] == generate_judge_records(50, seed=3)
    assert generate_judge_records(0, seed=3) == []


def test_eval_holds_out_countries_questions_and_ids(train, held_out):
    def countries(recs):
        return {m[1] for r in recs if (m := _CAPITAL_Q.fullmatch(r["question_body"]))}

    assert countries(train) and countries(train) <= {c for c, _ in COUNTRIES[:-EVAL_COUNTRIES]}
    assert countries(held_out) and countries(held_out) <= {c for c, _ in COUNTRIES[-EVAL_COUNTRIES:]}
    assert not {r["question_body"] for r in train} & {r["question_body"] for r in held_out}
    train_ids = [r["question_id"] for r in train]
    eval_ids = [r["question_id"] for r in held_out]
    assert len(set(train_ids)) == len(train_ids) and len(set(eval_ids)) == len(eval_ids)
    assert max(train_ids) < EVAL_ID_OFFSET <= min(eval_ids)
    # Real made-up names: no name is used twice, as a country or a capital.
    assert len({name for pair in COUNTRIES for name in pair}) == 2 * len(COUNTRIES)


@pytest.mark.parametrize(
    "kind, expected",
    [("correct-full", 10), ("correct-terse", 9), ("near-full", 6), ("near-terse", 5),
     ("wrong-full", 3), ("wrong-terse", 2), ("off-topic", 1), ("empty", 1)],
)
def test_score_rule(kind, expected):
    assert score(kind) == expected


def test_score_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown answer kind 'great-full'"):
        score("great-full")


def test_answers_are_what_their_kind_says_and_scored_by_the_rule(train, held_out):
    kinds = set()
    for r in train + held_out:
        truth = _truth(r["question_body"])
        assert _value(r["reference"]["text"]) == truth
        for slot in (1, 2):
            kind, answer = r[f"answer{slot}_model_id"], r[f"answer{slot}_body"]
            kinds.add(kind)
            value = _value(answer)
            assert kind.endswith("-terse") == (kind not in ("empty", "off-topic") and value == answer)
            if kind.startswith("correct"):
                assert value == truth
            elif kind.startswith("near") and truth.isdigit():
                assert abs(int(value) - int(truth)) == 1
            elif kind.startswith("near"):  # one letter changed, first letter kept
                assert len(value) == len(truth) and value[0] == truth[0]
                assert sum(a != b for a, b in zip(value, truth)) == 1
            elif kind.startswith("wrong") and truth.isdigit():
                assert abs(int(value) - int(truth)) >= 3
            elif kind.startswith("wrong"):
                assert value in CAPITALS.values() and value != truth
            elif kind == "empty":
                assert answer == ""
            else:
                assert answer and truth not in answer
        expected = [float(score(r["answer1_model_id"])), float(score(r["answer2_model_id"]))]
        assert r["score"] == r["score_w_reference"] == expected
    assert len(kinds) == 8  # every quality and style occurs


def test_judgment_text_agrees_with_scores(train):
    for r in train:
        s1, s2 = (int(s) for s in r["score"])
        for text in (r["text"], r["text_w_reference"]):
            first, explanation = text.split("\n")
            assert first == f"{s1} {s2}"
            assert verdicts.parse_judgment(text, 2).scores == r["score"]
            assert "Assistant 1" in explanation and "Assistant 2" in explanation
            winner = "It is a tie." if s1 == s2 else f"Assistant {1 if s1 > s2 else 2} is better."
            assert explanation.endswith(winner)
        assert r["text_w_reference"].split("\n")[1].startswith("Compared with the reference, ")


def test_pairs_mostly_differ(train):
    ties = sum(r["score"][0] == r["score"][1] for r in train)
    assert 0 < ties < 0.25 * len(train)


def _better_first_rate(recs) -> float:
    decided = [r["score"] for r in recs if r["score"][0] != r["score"][1]]
    return sum(s1 > s2 for s1, s2 in decided) / len(decided)


@pytest.mark.parametrize("skew", [0.5, 0.9, 0.1])
def test_position_skew_places_the_better_answer_first_that_often(train, skew):
    skewed = train if skew == 0.5 else generate_judge_records(2000, seed=0, split="train", position_skew=skew)
    assert abs(_better_first_rate(skewed) - skew) <= 0.03
    # Same questions and answers, only their order differs.
    for a, b in zip(train, skewed):
        assert a["question_body"] == b["question_body"]
        assert {a["answer1_body"], a["answer2_body"]} == {b["answer1_body"], b["answer2_body"]}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"split": "test"}, "unknown split 'test'"),
        ({"position_skew": 1.5}, "position_skew must be a probability"),
        ({"n": EVAL_ID_OFFSET + 1}, "n must be in 0..1000000"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_judge_records(**{"n": 1, "seed": 0, **kwargs})


def test_written_records_adapt_as_judgelm_with_gold_from_the_scores(held_out, tmp_path):
    path = tmp_path / "data" / "eval.jsonl"
    write_jsonl(held_out, path)
    rows = adapt_records(path.read_bytes(), str(path), "judgelm")
    assert len(rows) == len(held_out)
    for row, r in zip(rows, held_out):
        assert row["error"] is None
        assert row["id"] == str(r["question_id"])
        assert row["answers"] == [r["answer1_body"], r["answer2_body"]]
        assert row["reference"] == r["reference"]["text"]
        assert row["gold_scores"] == r["score"]
        assert row["gold_verdict"] == verdicts.verdict_from_scores(r["score"])

