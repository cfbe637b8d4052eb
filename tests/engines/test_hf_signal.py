"""The HF engine's score-line constraint and logprobs, on the tiny random Llama and on a copy of it wired to
give one fixed judgment."""

import math
import re
from dataclasses import replace

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from judgelm_ray.engines.base import Generation, GenerationParams
from judgelm_ray.engines.hf import HFEngine
from judgelm_ray.engines.score_line import ScoreLine
from judgelm_ray.families.judgelm import score_line
from judgelm_ray.modes import build_prompt

TOP = 5
# Enough for the longest line: "10 10 10\n" is 9 tokens at worst.
PARAMS = GenerationParams(max_tokens=12, logprobs=TOP)
# (question, answers, reference, mode, use_reference), and whether the row is constrained.
_CASES = [
    (("What is the capital of France?", ["Paris.", "Lyon."], None, "pairwise", False), True),
    (("2 + 2 = ?", ["4", "5", "22"], "4", "multi", True), True),
    (("How many legs does a spider have?", ["Eight."], "It has eight legs.", "single", True), True),
    (("Who wrote Emma?", ["Jane Austen.", "Charles Dickens."], None, "pairwise", False), False),
]
PROMPTS = [build_prompt(*case) for case, _ in _CASES]
# The lines the judge actor asks for: single mode continues its pre-filled "10" with " " and one score.
LINES = [score_line(case[3], len(case[1])) if constrained else None for case, constrained in _CASES]
FIXED_JUDGMENT = "8 3\n single"  # " 3\n single" after single mode's pre-filled "10"


def per_prompt(params: GenerationParams) -> list[GenerationParams]:
    return [replace(params, score_line=line) for line in LINES]


def matches(line: ScoreLine, text: str) -> bool:
    return re.fullmatch(line.regex(), text) is not None


@pytest.fixture(scope="module")
def engine(tiny_model) -> HFEngine:
    return HFEngine(tiny_model)


@pytest.fixture(scope="module")
def free(engine) -> list[Generation]:
    return engine.generate(PROMPTS, PARAMS)


@pytest.fixture(scope="module")
def constrained(engine) -> list[Generation]:
    return engine.generate(PROMPTS, per_prompt(PARAMS))


@pytest.fixture(scope="module")
def fixed_judge(tiny_model, tmp_path_factory) -> str:
    """The tiny model answering every JudgeLM prompt with FIXED_JUDGMENT: its layers silenced, so the next
    token depends on the last one alone, and its head wired as that bigram table."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    # Every prompt ends in "### Response:"; single mode's then in the pre-filled "10".
    chains = [[ids(":")[-1], *ids(FIXED_JUDGMENT)], [ids("10")[-1], *ids(FIXED_JUDGMENT.partition("8")[2])]]
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        seen = model.model.norm(model.model.embed_tokens.weight)  # what the head sees after each token
        transitions = {(a, b) for chain in chains for a, b in zip(chain, [*chain[1:], tokenizer.eos_token_id])}
        for a, b in transitions:
            # Random vectors of 128 dimensions: seen[a] . seen[a] = 128 dwarfs seen[a] . seen[other] (~ +-11).
            model.lm_head.weight[b] += seen[a]
    out = tmp_path_factory.mktemp("fixed-judge") / "model"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


def test_the_random_model_leaves_the_line_unless_constrained(free):
    assert not any(matches(line, g.text) for line, g in zip(LINES, free) if line)


def test_constrained_first_lines_match_the_score_line(constrained):
    for line, generation in zip(LINES, constrained):
        if line:
            assert matches(line, generation.text), (line, generation.text)


def test_unconstrained_rows_are_unchanged_by_their_batch_neighbours_constraints(free, constrained):
    for line, without, with_ in zip(LINES, free, constrained):
        if line is None:
            assert with_ == without


def test_a_line_that_already_matches_decodes_as_without_the_constraint(fixed_judge):
    engine = HFEngine(fixed_judge)
    free = engine.generate(PROMPTS, PARAMS)
    constrained = engine.generate(PROMPTS, per_prompt(PARAMS))
    expected = [" 3\n single" if case[3] == "single" else FIXED_JUDGMENT for case, _ in _CASES]
    assert [g.text for g in free] == expected
    for line, without, with_ in zip(LINES, free, constrained):
        if line is None or matches(line, without.text):
            # The same tokens; a constrained row's logprobs are over the tokens its line allows (as vLLM's).
            assert (with_.text, with_.completion_tokens) == (without.text, without.completion_tokens)
            assert [t.token for t in with_.logprobs] == [t.token for t in without.logprobs]
            if line is None:
                assert with_ == without
        else:  # multi: three scores, where the model writes two
            assert matches(line, with_.text) and with_.text != without.text


def test_logprobs_name_each_token_of_the_first_line_and_stop_after_it(engine, free, constrained):
    for generation in free + constrained:
        tokens = [step.token for step in generation.logprobs]
        # The byte-level tokenizer decodes exactly: the tokens spell the text up to the first newline.
        first_line = generation.text.partition("\n")
        assert "".join(tokens) == first_line[0] + first_line[1]
        assert len(tokens) <= generation.completion_tokens
        assert all("\n" not in token for token in tokens[:-1])
        for step in generation.logprobs:
            assert step.token in step.top
            # The top k and the chosen token if it is not among them; a constrained step has only what its line
            # allows (after a complete score, the space or newline).
            assert 1 <= len(step.top) <= TOP + 1
            assert sum(math.exp(v) for v in step.top.values()) <= 1 + 1e-5
    assert all(TOP <= len(step.top) for g in free for step in g.logprobs)
    assert any("\n" in g.text for g in constrained)  # the cut is exercised


def test_greedy_logprobs_rank_the_chosen_token_first_and_a_constrained_step_offers_only_the_line(free, constrained):
    for generation in free + constrained:
        for step in generation.logprobs:
            assert step.top[step.token] == max(step.top.values())
    # The mask comes before the logprobs: a constrained step's candidates all keep to the line.
    for line, generation in zip(LINES, constrained):
        if line is None:
            continue
        written = ""
        for step in generation.logprobs:
            assert all(line.allows(written + text) for text in step.top), (written, step.top)
            written += step.token


def test_without_logprobs_generations_carry_none(engine):
    [generation] = engine.generate(PROMPTS[:1], GenerationParams(max_tokens=2))
    assert generation.logprobs is None


def test_a_token_that_completes_a_character_is_named_by_the_whole_character(engine):
    ids = engine.tokenizer("🎉", add_special_tokens=False)["input_ids"]
    assert len(ids) > 1  # byte-level: the emoji's four bytes take several tokens
    texts = [engine._token_texts([token], context=ids[:i])[0] for i, token in enumerate(ids)]
    assert texts[-1] == "🎉" and "".join(texts) == "🎉"  # as vLLM's decoded_token: "" until it is whole


def test_per_prompt_params_may_differ_only_in_their_score_line(engine):
    with pytest.raises(ValueError, match="only in score_line"):
        engine.generate(PROMPTS[:2], [PARAMS, replace(PARAMS, temperature=1.0)])
    with pytest.raises(ValueError, match="2 GenerationParams for 1 prompts"):
        engine.generate(PROMPTS[:1], [PARAMS, PARAMS])
