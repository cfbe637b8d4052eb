"""Variants of the tiny judge model for tests."""

from __future__ import annotations

from pathlib import Path

# A ChatML-style template, as many chat judges have: its <|im_start|>/<|im_end|> are control tokens.
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def with_chat_template(model: str, folder: Path) -> str:
    """A copy of `model` whose tokenizer has ChatML special tokens and a chat template (and whose
    embeddings grew by those tokens)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf = AutoTokenizer.from_pretrained(model)
    hf.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    hf.chat_template = CHATML
    hf.save_pretrained(folder)
    weights = AutoModelForCausalLM.from_pretrained(model)
    weights.resize_token_embeddings(len(hf))
    weights.save_pretrained(folder)
    return str(folder)
