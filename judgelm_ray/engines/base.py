"""The engine interface shared by the vLLM and Hugging Face backends."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GenerationParams:
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int | None = None
    # Output is cut at the first stop string where one occurs; the stop string is not included.
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int


# A prompt as text, or as the token ids the judge job's CPU stage already made from it (so the
# GPU actor does not tokenize again).
Prompt = str | list[int]


class JudgeEngine(Protocol):
    def generate(self, prompts: list[Prompt], params: GenerationParams) -> list[Generation]:
        """One generation per prompt, in prompt order."""
        ...


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """Cut text at the earliest occurrence of any stop string (excluded)."""
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
