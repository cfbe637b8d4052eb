"""The JudgeLM score line as a decoding constraint (`judge.constrain: score_line`).

JudgeLM's first line is `count` integers from 1 to 10 separated by single spaces ("8 9"), then a newline
and free text. Single-answer grading pre-fills the first score ("10"), so its line continues with
`lead` " " and one score. vLLM takes the line as a regex (structured outputs); the HF engine checks each
candidate token against `allows` (a logits processor). Only the first line is constrained: the
explanation after it is free text.
"""

from __future__ import annotations

from dataclasses import dataclass

_SCORE = "(10|[1-9])"
_VALUES = {str(v) for v in range(1, 11)}
_DIGITS_AND_SPACE = "0123456789 "


@dataclass(frozen=True)
class ScoreLine:
    count: int  # scores on the line
    lead: str = ""  # text before the first score

    def regex(self) -> str:
        """The line, its newline, and then any text (vLLM's structured outputs match the whole output)."""
        return self._start() + " ".join([_SCORE] * self.count) + r"\n[\s\S]*"

    def _start(self) -> str:
        # Without a lead, one space may open the line: SentencePiece judges (Llama's) often write "▁8"
        # first, which vLLM decodes as " 8"; JudgeLM strips the line before it reads it.
        return _escape(self.lead) if self.lead else " ?"

    def allows(self, text: str) -> bool:
        """Whether generated `text` is a prefix of the score line followed by anything."""
        if not self.lead and text.startswith(" "):
            text = text[1:]
        if not text.startswith(self.lead):
            return self.lead.startswith(text)
        line, newline, _ = text[len(self.lead):].partition("\n")
        fields = line.split(" ")
        if newline:
            return len(fields) == self.count and all(field in _VALUES for field in fields)
        *done, last = fields
        if len(done) >= self.count or not all(field in _VALUES for field in done):
            return False
        # The field being written: empty (just after a space, or at the start) or the start of a value.
        return last == "" or last in _VALUES

    @property
    def characters(self) -> frozenset[str]:
        """The characters the line can hold before its newline: a token with any other character before
        its first newline is never allowed (the HF engine checks only the other tokens exactly)."""
        return frozenset(self.lead + _DIGITS_AND_SPACE)

    def complete(self, text: str) -> bool:
        """Whether `text` already holds the whole line and its newline (decoding is free from there)."""
        return "\n" in text and self.allows(text)


def _escape(text: str) -> str:
    return "".join("\\" + c if c in r"\.^$|?*+()[]{}" else c for c in text)
