"""The judge model's tokenizer for CPU stages, loaded without importing transformers (and torch).

Importing transformers costs ~8 s of CPU per process on a small machine, paid by every Ray worker
that only needs to count and make token ids. A fast tokenizer's `tokenizer.json` holds all of
its encoding (normaliser, model, and the post-processor that adds BOS/EOS), so the `tokenizers`
library encodes from it directly, exactly as transformers does with `add_special_tokens=True`.
Where `tokenizer_config.json` changes the special tokens transformers adds (`add_bos_token`,
`add_eos_token`) or the model has no `tokenizer.json` (a slow, SentencePiece-only tokenizer),
transformers is used, as vLLM does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# tokenizer_config.json keys with which transformers encodes differently from tokenizer.json alone.
_OVERRIDES = ("add_bos_token", "add_eos_token")


class Tokenizer:
    """Encodes batches of prompts to token ids (special tokens included) and decodes ids to text."""

    def __init__(self, model: str) -> None:
        folder = Path(model)
        config_path = folder / "tokenizer_config.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        self.fast = None
        if (folder / "tokenizer.json").is_file() and not any(key in config for key in _OVERRIDES):
            from tokenizers import Tokenizer as FastTokenizer

            self.fast = FastTokenizer.from_file(str(folder / "tokenizer.json"))
        else:
            from transformers import AutoTokenizer

            self.slow = AutoTokenizer.from_pretrained(model)

    def encode(self, prompts: list[str]) -> list[list[int]]:
        if self.fast is not None:
            return [e.ids for e in self.fast.encode_batch(prompts, add_special_tokens=True)]
        return self.slow(prompts).input_ids

    def decode(self, ids: list[int]) -> str:
        return (self.fast or self.slow).decode(ids, skip_special_tokens=True)


def context_length(model: str) -> int | None:
    """The model's context in tokens (config.json's max_position_embeddings), if it says."""
    path = os.path.join(model, "config.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f).get("max_position_embeddings")
