"""Pairing answers: which model pairs judge a question, and the answer-file pieces the joining formats share."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest

from judgelm_ray.inputs import pairing
from judgelm_ray.inputs.fields import RowError

MODELS = ["alpha", "beta", "delta", "gamma"]  # 6 pairs


def test_all_pairs_in_fastchat_order():
    assert pairing.pick_pairs(MODELS, "81", None, 0) == list(itertools.combinations(MODELS, 2))
    assert pairing.pick_pairs(["beta", "alpha"], "81", None, 0) == [("beta", "alpha")]  # the given order: answer 1
    assert pairing.pick_pairs(["alpha"], "81", None, 0) == pairing.pick_pairs(["alpha"], "81", 2, 0) == []
    assert pairing.pick_pairs(MODELS, "81", 6, 0) == pairing.pick_pairs(MODELS, "81", 99, 0) == pairing.pick_pairs(
        MODELS, "81", None, 0)  # asking for as many or more: all of them


def test_drawn_pairs_count_order_and_determinism():
    all_pairs = list(itertools.combinations(MODELS, 2))
    for qid in map(str, range(30)):
        for n in (1, 2, 5):
            drawn = pairing.pick_pairs(MODELS, qid, n, 7)
            assert len(drawn) == len(set(drawn)) == n
            assert drawn == [p for p in all_pairs if p in drawn]  # kept in combinations order
            assert drawn == pairing.pick_pairs(MODELS, qid, n, 7)  # the same again (a resumed run)
        # a larger draw keeps the smaller one's pairs: each pair has one rank per (seed, question)
        assert set(pairing.pick_pairs(MODELS, qid, 1, 7)) <= set(pairing.pick_pairs(MODELS, qid, 2, 7))


def test_draw_depends_only_on_seed_and_question():
    questions = [str(q) for q in range(40)]
    first = {q: pairing.pick_pairs(MODELS, q, 2, 3) for q in questions}
    assert {q: pairing.pick_pairs(MODELS, q, 2, 3) for q in reversed(questions)} == first  # question order
    # the models' order changes who is answer 1, not which two models meet
    reordered = {q: pairing.pick_pairs(MODELS[::-1], q, 2, 3) for q in questions}
    assert {q: {frozenset(p) for p in pairs} for q, pairs in reordered.items()} == {
        q: {frozenset(p) for p in pairs} for q, pairs in first.items()}
    assert len({tuple(pairs) for pairs in first.values()}) > 3  # questions draw differently
    assert {q: pairing.pick_pairs(MODELS, q, 2, 4) for q in questions} != first  # and so do seeds


def test_draw_spreads_over_pairs():
    counts = Counter(p for q in range(600) for p in pairing.pick_pairs(MODELS, str(q), 1, 0))
    assert set(counts) == set(itertools.combinations(MODELS, 2))
    assert all(60 < n < 140 for n in counts.values()), counts  # ~100 each


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_per_question(bad):
    with pytest.raises(ValueError, match="pairs per question: expected a whole number >= 1 or null"):
        pairing.pick_pairs(MODELS, "1", bad, 0)


def parse(value: dict) -> str:
    if not isinstance(value.get("text"), str):
        raise RowError("text", "expected a string")
    return value["text"]


def test_load_answers_and_lookup():
    lines = [json.dumps({"question_id": 1, "text": "one"}), '{"question_id": "q-2", "text": "cut o',
             json.dumps({"question_id": 3, "text": 3}), "[1]", json.dumps({"question_id": 4, "text": "old"}),
             json.dumps({"question_id": 4, "text": "new"})]
    file = pairing.load_answers("\n".join(lines), "m.jsonl", parse)
    assert pairing.lookup(file, "1", "add it") == (0, "one")
    assert pairing.lookup(file, "4", "add it") == (5, "new")  # a later line wins
    with pytest.raises(pairing.JoinError, match=r"^m\.jsonl row 1: invalid JSON: Unterminated string"):
        pairing.lookup(file, "q-2", "add it")  # a cut-off line still names its (string) question
    with pytest.raises(pairing.JoinError, match=r"^m\.jsonl row 2: field 'text': expected a string$"):
        pairing.lookup(file, "3", None)
    # question 5 might be on the unreadable row 3: neither required nor optional answers can tell
    for fix in ("add it", None):
        with pytest.raises(pairing.JoinError, match=r"^m\.jsonl row 3: expected a JSON object, got list; question 5 "
                                                    "has no readable answer in the file$"):
            pairing.lookup(file, "5", fix)
    clean = pairing.load_answers(lines[0], "m.jsonl", parse)
    assert pairing.lookup(clean, "5", None) is None
    with pytest.raises(pairing.JoinError, match=r"^m\.jsonl: field 'question_id': no answer to question 5; add it$"):
        pairing.lookup(clean, "5", "add it")


def test_choose_models():
    assert pairing.choose_models(["a", "b"], None, "d") == ["a", "b"]
    assert pairing.choose_models(["a", "b", "c"], ["c", "a"], "d") == ["c", "a"]
    with pytest.raises(ValueError, match="models: no answers of x in d; it has a, b"):
        pairing.choose_models(["a", "b"], ["a", "x"], "d")
    with pytest.raises(ValueError, match="models: expected one or more different model names"):
        pairing.choose_models(["a", "b"], [], "d")
