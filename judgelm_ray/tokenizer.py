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

import functools
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
        self.folder = model
        self._chat = None  # transformers' tokenizer, loaded for the first chat prompt
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

    def encode_prompts(self, prompts: list[str | list[dict]]) -> list[list[int]]:
        """Token ids of raw prompts (str) and of chat messages (a list of {role, content})."""
        ids: list[list[int] | None] = [None] * len(prompts)
        raw = [i for i, prompt in enumerate(prompts) if isinstance(prompt, str)]
        for i, one in zip(raw, self.encode([prompts[i] for i in raw]) if raw else []):
            ids[i] = one
        for i, prompt in enumerate(prompts):
            if not isinstance(prompt, str):
                ids[i] = self.encode_chat(prompt)
        return ids

    def encode_chat(self, messages: list[dict]) -> list[int]:
        """Chat messages through the model's chat template (transformers' `apply_chat_template`, as vLLM's
        chat does), ready for the assistant's turn. The template's own special tokens are control tokens;
        special-token text inside the messages stays text. Without a chat template the messages are one raw
        prompt, joined with "\n" as JudgeLM joins its system line to the prompt."""
        template = self._chat_tokenizer()
        if template.chat_template is None:
            return self.encode(["\n".join(m["content"] for m in messages)])[0]
        try:
            text = template.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:  # jinja2's TemplateError: the template refuses a system turn (Mistral's)
            if messages[0]["role"] != "system" or len(messages) < 2:
                raise
            # As FastChat and prometheus-eval do for such models: the system prompt opens the user turn.
            messages = [{"role": "user", "content": f"{messages[0]['content']}\n\n{messages[1]['content']}"}, *messages[2:]]
            text = template.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        pieces = self._pieces(text, [m["content"] for m in messages])
        if pieces is None:  # the template rewrote a message: encode it all as text rather than risk control tokens
            return self._encode_piece(text, as_text=True)
        return [i for piece, is_content in pieces for i in self._encode_piece(piece, as_text=is_content)]

    def _pieces(self, text: str, contents: list[str]) -> list[tuple[str, bool]] | None:
        """The rendered chat as (piece, is message text); one piece in all where no message holds special text."""
        if not any(self.has_special_text(content) for content in contents):
            return [(text, False)]
        pieces, at = [], 0
        for content in contents:
            start = text.find(content, at)
            if start < 0:
                return None
            pieces += [(text[at:start], False), (content, True)]
            at = start + len(content)
        return [*pieces, (text[at:], False)]

    def _encode_piece(self, text: str, as_text: bool) -> list[int]:
        # A chat template writes its own BOS, so nothing is added (vLLM tokenizes chats the same way).
        if not text:
            return []
        if self.fast is None:
            return self.slow(text, add_special_tokens=False, split_special_tokens=as_text).input_ids
        self.fast.encode_special_tokens = as_text
        try:
            return self.fast.encode(text, add_special_tokens=False).ids
        finally:
            self.fast.encode_special_tokens = True

    def _chat_tokenizer(self):
        if self._chat is None:
            from transformers import AutoTokenizer  # only chat prompts pay for importing transformers

            self._chat = self.slow if self.fast is None else AutoTokenizer.from_pretrained(self.folder)
        return self._chat

    @functools.cached_property
    def bos_id(self) -> int | None:
        """The token the tokenizer puts before every prompt, if any."""
        empty = self.encode([""])[0]
        return empty[0] if empty else None

    @functools.cached_property
    def _newline(self) -> list[int]:
        return self._encode_piece("\n", as_text=True)

    def with_images(self, ids: list[int], n_images: int, image_id: int) -> list[int]:
        """Prompt ids with one image placeholder and a newline per image at the start, after the BOS, as
        LLaVA's "<image>\n<prompt>" puts them; the engine replaces each placeholder by the image's features.
        The placeholder goes in as an id: written as text it would be encoded as text (see the module doc)."""
        start = 1 if ids and self.bos_id is not None and ids[0] == self.bos_id else 0
        return ids[:start] + ([image_id] + self._newline) * n_images + ids[start:]

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


# config.json keys that name a vision-language model's image placeholder: LLaVA, Gemma 3, Mistral 3 and
# PaliGemma say image_token_index; Idefics3/SmolVLM, Qwen2-VL and most newer ones image_token_id.
IMAGE_TOKEN_KEYS = ("image_token_index", "image_token_id")


def image_token(model: str) -> tuple[str, int] | None:
    """A vision-language model's image placeholder as (token text, token id); None for a text-only model.

    Read from the model folder's JSON files (config.json for the id, tokenizer.json, tokenizer_config.json
    or processor_config.json for its text), without importing transformers.

    Where placeholders go: one placeholder id and "\\n" per image at the start of the user text, after
    the BOS, as LLaVA-1.5's "USER: <image>\\n..." (`with_images`). Each is inserted as an id: written as
    text, `Tokenizer.encode` would encode it as text (see the module doc). The engine expands every
    placeholder into the image's features (vLLM itself, the HF engine through the model's processor), so
    a prompt carries exactly one per image. Models whose image prompt needs more than one marker per
    image (Qwen2-VL's <|vision_start|><|image_pad|><|vision_end|>) are not covered by this convention.
    """
    config = _read_json(os.path.join(model, "config.json"))
    found = next((config[key] for key in IMAGE_TOKEN_KEYS if isinstance(config.get(key), int)), None)
    if found is None:
        return None
    for token in _read_json(os.path.join(model, "tokenizer.json")).get("added_tokens", []):
        if token.get("id") == found:
            return token["content"], found
    decoder = _read_json(os.path.join(model, "tokenizer_config.json")).get("added_tokens_decoder", {})
    if str(found) in decoder:
        return decoder[str(found)]["content"], found
    text = _read_json(os.path.join(model, "processor_config.json")).get("image_token")
    if isinstance(text, str):
        return text, found
    raise ValueError(f"{model}: config.json names image token id {found}, but no tokenizer file names its text")


def _read_json(path: str) -> dict:
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)
