"""The judge model's tokenizer for CPU stages, loaded without importing transformers (and torch).

Importing transformers costs ~8 s of CPU per process on a small machine, paid by every Ray worker
that only needs to count and make token ids. A fast tokenizer's `tokenizer.json` holds all of
its encoding (normaliser, model, and the post-processor that adds BOS/EOS), so the `tokenizers`
library encodes from it directly, exactly as transformers does with `add_special_tokens=True`.
Where `tokenizer_config.json` changes the special tokens transformers adds (`add_bos_token`,
`add_eos_token`) or the model has no `tokenizer.json` (a slow, SentencePiece-only tokenizer),
transformers is used, as vLLM does.

Special tokens written as text (`</s>` in an answer) are encoded as the text they are, never as
control tokens: otherwise row text could end the prompt or start a new one. The judge template's
text contains none (`judge.guard.template_conflicts`), and the BOS/EOS the tokenizer adds come from
its post-processor (or `add_bos_token`), not from text, so they stay control tokens; a prompt without
special-token text gets the very same ids as with special tokens parsed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# tokenizer_config.json keys with which transformers encodes differently from tokenizer.json alone.
_OVERRIDES = ("add_bos_token", "add_eos_token")


class Tokenizer:
    """Encodes batches of prompts to token ids (special tokens included) and decodes ids to text.

    `special_tokens`: the text of the tokenizer's special tokens, which `judge.guard` looks for in rows.
    """

    def __init__(self, model: str) -> None:
        folder = Path(model)
        config_path = folder / "tokenizer_config.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        self.fast = None
        if (folder / "tokenizer.json").is_file() and not any(key in config for key in _OVERRIDES):
            from tokenizers import Tokenizer as FastTokenizer

            self.fast = FastTokenizer.from_file(str(folder / "tokenizer.json"))
            # transformers' split_special_tokens=True: special tokens in the input text stay text.
            self.fast.encode_special_tokens = True
            added = self.fast.get_added_tokens_decoder().values()
            self.special_tokens = tuple(sorted({t.content for t in added if t.special}))
        else:
            from transformers import AutoTokenizer

            self.slow = AutoTokenizer.from_pretrained(model)
            added = self.slow.added_tokens_decoder.values()
            specials = {t.content for t in added if t.special} | set(self.slow.all_special_tokens)
            self.special_tokens = tuple(sorted(specials))

    def encode(self, prompts: list[str]) -> list[list[int]]:
        """Token ids of each prompt: the tokenizer's BOS/EOS added, special-token text kept as text."""
        if self.fast is not None:
            return [e.ids for e in self.fast.encode_batch(prompts, add_special_tokens=True)]
        return self._encode_slow(prompts)

    def _encode_slow(self, prompts: list[str]) -> list[list[int]]:
        # Only prompts holding special-token text are split: transformers' Python tokenizers skip every
        # added token (special or not) when splitting, which would change the ids of ordinary prompts.
        ids: list[list[int] | None] = [None] * len(prompts)
        for split in (False, True):
            group = [i for i, prompt in enumerate(prompts) if self.has_special_text(prompt) == split]
            if group:
                encoded = self.slow([prompts[i] for i in group], split_special_tokens=split).input_ids
                for i, one in zip(group, encoded):
                    ids[i] = one
        return ids

    def has_special_text(self, text: str) -> bool:
        return any(token in text for token in self.special_tokens)

    def decode(self, ids: list[int]) -> str:
        return (self.fast or self.slow).decode(ids, skip_special_tokens=True)


def context_length(model: str) -> int | None:
    """The model's context in tokens (config.json's max_position_embeddings), if it says."""
    path = os.path.join(model, "config.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f).get("max_position_embeddings")
