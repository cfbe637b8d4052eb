"""ScoreLine: `allows` accepts exactly the prefixes of what its regex matches, `complete` the whole line."""

import itertools
import re

import pytest

from judgelm_ray.engines.score_line import ScoreLine

# "1", "5" and "10" are every shape of score; "0" and spaces can also be misplaced ("01", "1  5", " 1").
# Three scores take "5" out: four characters would make 87,381 strings of up to 8.
LINES = [
    (ScoreLine(1), "105 "),
    (ScoreLine(2), "105 "),
    (ScoreLine(3), "10 "),
    (ScoreLine(1, lead=" "), "105 "),
    (ScoreLine(2, lead=" "), "105 "),
]


def strings(alphabet: str, max_length: int) -> list[str]:
    return ["".join(chars) for n in range(max_length + 1) for chars in itertools.product(alphabet, repeat=n)]


@pytest.mark.parametrize(("line", "alphabet"), LINES, ids=repr)
def test_allows_exactly_the_prefixes_of_the_lines_the_regex_matches(line, alphabet):
    # Every string up to the longest line ("10 10 10"), after the lead or without it.
    longest = 3 * line.count - 1
    texts = [line.lead + s for s in strings(alphabet, longest)] + strings(alphabet, len(line.lead) + 1)
    whole = {text for text in texts if re.fullmatch(line.regex(), text + "\n")}
    prefixes = {text[:i] for text in whole for i in range(len(text) + 1)}
    scores = [v for v in ("1", "5", "10") if set(v) <= set(alphabet)]
    # Without a lead, one space may open the line (SentencePiece judges write it; JudgeLM strips it).
    starts = (line.lead,) if line.lead else ("", " ")
    lines = {start + " ".join(s) for start in starts for s in itertools.product(scores, repeat=line.count)}
    assert whole == lines & set(texts)
    for text in texts:
        assert line.allows(text) == (text in prefixes), text
        # After the newline anything goes, if the line before it is whole.
        assert line.allows(text + "\nAssistant 1 ...") == (text in whole), text
        assert line.complete(text + "\n") == (text in whole), text
        assert not line.complete(text)


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (ScoreLine(2), "8 7\nAssistant 1 gave a better answer."),
        (ScoreLine(2), "10 10\n"),
        (ScoreLine(2), " 8 7\n"),  # a space may open the line
        (ScoreLine(2), "1 10\n\n10 10\n Ünïcödé 🎉 \t"),
        (ScoreLine(3), "9 1 10\nAll three answered.\n"),
        (ScoreLine(1, lead=" "), " 10\nThe answer matches the reference."),
        (ScoreLine(1, lead=" "), " 3\n"),
    ],
)
def test_every_prefix_of_a_matching_text_is_allowed(line, text):
    assert re.fullmatch(line.regex(), text)
    assert all(line.allows(text[:i]) for i in range(len(text) + 1))
    newline = text.index("\n")
    assert [line.complete(text[:i]) for i in range(len(text) + 1)] == [i > newline for i in range(len(text) + 1)]


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (ScoreLine(2), "0 7\n"),  # scores are 1 to 10
        (ScoreLine(2), "11 3\n"),
        (ScoreLine(2), "01 3\n"),
        (ScoreLine(2), "8  7\n"),  # single spaces
        (ScoreLine(2), "8,7\n"),
        (ScoreLine(2), "8 7 \n"),
        (ScoreLine(2), "  8 7\n"),  # one space at most before the line
        (ScoreLine(2), "8\n"),  # too few
        (ScoreLine(2), "8 7 6\n"),  # too many
        (ScoreLine(2), "\n"),
        (ScoreLine(2), "Assistant 1: 8\n"),
        (ScoreLine(3), "8 7\nThe third answer is missing."),
        (ScoreLine(1, lead=" "), "7\n"),  # single mode's lead: the space after the pre-filled "10"
        (ScoreLine(1, lead=" "), "0 7\n"),  # would continue the pre-filled "10" into "100"
        (ScoreLine(1, lead=" "), " 7 8\n"),
    ],
)
def test_texts_off_the_line_are_refused(line, text):
    assert not re.fullmatch(line.regex(), text)
    assert not line.allows(text)
    assert not line.complete(text)
    # Refused from the first character that leaves the line on.
    first = next(i for i in range(len(text) + 1) if not line.allows(text[:i]))
    assert not any(line.allows(text[:i]) for i in range(first, len(text) + 1))


def test_characters_are_those_of_the_line_before_its_newline():
    assert ScoreLine(2).characters == frozenset("0123456789 ")
    assert ScoreLine(1, lead="Score:").characters == frozenset("0123456789 Score:")


def test_regex_escapes_the_lead():
    line = ScoreLine(1, lead="(a+b)? ")
    assert re.fullmatch(line.regex(), "(a+b)? 7\nok")
    assert not re.fullmatch(line.regex(), "aab 7\nok")
