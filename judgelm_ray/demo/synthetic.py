"""A synthetic judge dataset with knowable answers, written as JudgeLM-format records.

Every question has one right answer a rule can check: two-digit arithmetic ("What is 47 + 38?")
or the capital of a made-up country ("What is the capital of Morwexstan?"). Each candidate answer is
drawn with a quality and a style, and the teacher score follows from them by rule, so a judge
trained on the data can learn the rule and be measured against it:

    quality    example            score (full sentence / terse)
    correct    "The answer is 85."    10 / 9
    near       "The answer is 86."     6 / 5    (off by one; a capital with one vowel changed)
    wrong      "The answer is 41."     3 / 2    (far off; another country's capital)
    off-topic  "Cats sleep a lot."     1
    empty      ""                      1

Held-out items: `split="eval"` asks about countries and arithmetic never asked in `split="train"`
(the last EVAL_COUNTRIES of the table; first operands ending in 7), and its question ids start at
EVAL_ID_OFFSET, so train and eval share neither questions nor ids.

Position: both answer slots are drawn the same way, except that when the scores differ the better
answer goes to slot 1 with probability `position_skew` (0.5, the default, is unbiased). A skew
such as 0.9 plants a position bias in the teacher data: a judge trained on it without swap
augmentation learns to prefer the first answer. Ties keep their drawn order.

Record i depends only on (seed, split, i, position_skew), so n only sets how many there are.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# Made-up countries and capitals, built from syllables (no real place, so no judge can know them
# from pre-training). There are far more than a few thousand training records can teach: like a
# real judge meeting facts it does not know, a judge trained here cannot recall which capital is
# right, and learns to judge by what it can tell (an empty, off-topic, terse or full answer). With
# a few dozen countries the tiny demo judge memorised them instead, then on held-out countries
# guessed, and its guesses (greedy decoding writes the first score first) favoured answer 1.
_SYLLABLES = (
    "bar", "vel", "mor", "tan", "ris", "quo", "len", "dra", "pel", "cot", "sor", "gan", "lim", "nor", "wex",
    "zan", "thel", "brim", "kel", "dun", "fra", "gor", "hal", "ist", "jov", "lur", "mir", "neth", "orr", "pal",
)
_COUNTRY_ENDINGS = ("ia", "land", "ova", "stan", "mere", "avia")
_CAPITAL_ENDINGS = ("ton", "burg", "holm", "is", "wick", "moor")
TRAIN_COUNTRIES = 2000
EVAL_COUNTRIES = 200


def _made_up_countries() -> tuple[tuple[str, str], ...]:
    """(country, capital) pairs, all names distinct; the same on every machine and run."""
    rng = random.Random("countries")
    names: set[str] = set()
    table = []
    while len(table) < TRAIN_COUNTRIES + EVAL_COUNTRIES:
        country = "".join(rng.sample(_SYLLABLES, 2)).capitalize() + rng.choice(_COUNTRY_ENDINGS)
        capital = "".join(rng.sample(_SYLLABLES, 2)).capitalize() + rng.choice(_CAPITAL_ENDINGS)
        if country not in names and capital not in names:
            names.update((country, capital))
            table.append((country, capital))
    return tuple(table)


COUNTRIES = _made_up_countries()  # the last EVAL_COUNTRIES are held out for evaluation
EVAL_ID_OFFSET = 1_000_000
SPLITS = ("train", "eval")

QUALITIES = ("correct", "near", "wrong", "off-topic", "empty")
# Correct answers are the most common kind in real judge data; the weights also keep ties rare.
_QUALITY_WEIGHTS = (0.35, 0.2, 0.2, 0.125, 0.125)
_BASE_SCORE = {"correct": 9, "near": 5, "wrong": 2, "off-topic": 1, "empty": 1}
_VERDICT_PHRASE = {
    "correct": "is correct", "near": "is nearly right", "wrong": "is wrong",
    "off-topic": "is off-topic", "empty": "is empty",
}
_OFF_TOPIC = ("Cats sleep a lot.", "I like green apples.", "The weather is nice today.", "Music helps me relax.")
_VOWELS = "aeiou"


def score(kind: str) -> int:
    """The teacher's score for an answer kind such as "correct-full", "near-terse" or "empty"."""
    quality = _quality(kind)
    if quality not in _BASE_SCORE:
        raise ValueError(f"unknown answer kind {kind!r}")
    # A full sentence is more helpful than a bare value, except when there is nothing to help with.
    return _BASE_SCORE[quality] + (1 if kind.endswith("-full") and _BASE_SCORE[quality] > 1 else 0)


def _quality(kind: str) -> str:
    return kind.removesuffix("-full").removesuffix("-terse")


def _countries(split: str) -> tuple[tuple[str, str], ...]:
    return COUNTRIES[-EVAL_COUNTRIES:] if split == "eval" else COUNTRIES[:-EVAL_COUNTRIES]


def _near_capital(capital: str, rng: random.Random) -> str:
    """The capital with one vowel (not the first letter) changed: looks right, is not."""
    spots = [i for i, c in enumerate(capital) if i > 0 and c in _VOWELS]
    i = rng.choice(spots)
    return capital[:i] + rng.choice(_VOWELS.replace(capital[i], "")) + capital[i + 1:]


def _capital_question(split: str, rng: random.Random) -> tuple[str, dict]:
    table = _countries(split)
    country, capital = rng.choice(table)
    wrong = capital
    while wrong == capital:
        wrong = rng.choice(table)[1]
    values = {"correct": capital, "near": _near_capital(capital, rng), "wrong": wrong}
    return f"What is the capital of {country}?", {
        q: (f"The capital of {country} is {v}.", v) for q, v in values.items()
    }


def _arithmetic_question(split: str, rng: random.Random) -> tuple[str, dict]:
    # Held-out arithmetic: first operands ending in 7 are asked only in the eval split.
    firsts = [a for a in range(10, 100) if (a % 10 == 7) == (split == "eval")]
    a, op = rng.choice(firsts), rng.choice("+-*")
    # Subtraction stays non-negative: b <= a.
    b = rng.randint(2, 9) if op == "*" else rng.randint(10, 99 if op == "+" else a)
    result = a + b if op == "+" else a - b if op == "-" else a * b
    near = result + rng.choice((-1, 1))
    wrong = result + rng.choice((-1, 1)) * rng.randint(3, 30)
    values = {"correct": result, "near": near, "wrong": wrong}
    return f"What is {a} {op} {b}?", {q: (f"The answer is {v}.", str(v)) for q, v in values.items()}


def _answer(forms: dict, rng: random.Random) -> tuple[str, str]:
    """(kind, text) of one candidate answer."""
    quality = rng.choices(QUALITIES, _QUALITY_WEIGHTS)[0]
    if quality == "empty":
        return "empty", ""
    if quality == "off-topic":
        return "off-topic", rng.choice(_OFF_TOPIC)
    full, terse = forms[quality]
    return (f"{quality}-full", full) if rng.random() < 0.5 else (f"{quality}-terse", terse)


def _explanation(kinds: tuple[str, str], scores: tuple[int, int], with_reference: bool) -> str:
    parts = []
    for n, kind in enumerate(kinds, 1):
        quality, terse = _quality(kind), kind.endswith("-terse")
        style = (" but terse" if quality == "correct" else " and terse") if terse else ""
        parts.append(f"Assistant {n} {_VERDICT_PHRASE[quality]}{style}.")
    if scores[0] == scores[1]:
        parts.append("It is a tie.")
    else:
        parts.append(f"Assistant {1 if scores[0] > scores[1] else 2} is better.")
    lead = "Compared with the reference, " if with_reference else ""
    return f"{scores[0]} {scores[1]}\n{lead}{' '.join(parts)}"


def _record(seed: int, split: str, i: int, position_skew: float) -> dict:
    rng = random.Random(f"{seed}:{split}:{i}")  # str seeds hash with SHA-512: stable across runs
    family = rng.choice((_arithmetic_question, _capital_question))
    question, forms = family(split, rng)
    reference = forms["correct"][0]
    pair = [_answer(forms, rng), _answer(forms, rng)]
    # Always draw the coin, so records differ across skews only in answer order.
    better_first = rng.random() < position_skew
    if score(pair[0][0]) != score(pair[1][0]):
        pair.sort(key=lambda answer: score(answer[0]), reverse=better_first)
    kinds = (pair[0][0], pair[1][0])
    scores = (score(kinds[0]), score(kinds[1]))
    return {
        "question_id": (EVAL_ID_OFFSET if split == "eval" else 0) + i,
        "question_body": question,
        "answer1_body": pair[0][1],
        "answer2_body": pair[1][1],
        "answer1_model_id": kinds[0],
        "answer2_model_id": kinds[1],
        "reference": {"text": reference},
        "score": [float(s) for s in scores],
        "text": _explanation(kinds, scores, with_reference=False),
        # The rule already knows the right answer, so seeing the reference changes no score.
        "score_w_reference": [float(s) for s in scores],
        "text_w_reference": _explanation(kinds, scores, with_reference=True),
    }


def generate_judge_records(n: int, seed: int, split: str = "train", position_skew: float = 0.5) -> list[dict]:
    """n JudgeLM-format records (see the module doc for the rules, splits and `position_skew`)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if not 0.0 <= position_skew <= 1.0:
        raise ValueError(f"position_skew must be a probability in [0, 1], got {position_skew}")
    if not 0 <= n <= EVAL_ID_OFFSET:
        raise ValueError(f"n must be in 0..{EVAL_ID_OFFSET} so train and eval ids stay disjoint, got {n}")
    return [_record(seed, split, i, position_skew) for i in range(n)]


def write_jsonl(records: list[dict], path: str | Path) -> None:
    """Write records as JSON lines (the layout JudgeLM's data files use), creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
