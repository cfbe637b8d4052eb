"""Hugging Face transformers backend: slow but dependency-light, and a reference for vLLM.

A vision-language model (its config names an image token) is loaded with AutoModelForImageTextToText
and its AutoProcessor; text models keep AutoModelForCausalLM. An `ImagePrompt` carries one placeholder
id per image; the processor gives what each placeholder becomes (LLaVA: the image token repeated once per
image feature; Idefics3: the tiles' markers and tokens) and the pixel tensors, as vLLM does with the same
processor.

A score line (`GenerationParams.score_line`) is a logits processor that bans, at each step of a row's first
line, the tokens whose text would leave the line. Logprobs are recorded by another logits processor, from
the distribution before that ban, and stop after the first line's last token (see `_LogprobRecorder`).
"""

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from functools import cached_property

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    AutoProcessor,
    AutoTokenizer,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteriaList,
    StopStringCriteria,
)

from judgelm_ray.engines.base import (
    Generation,
    GenerationParams,
    ImagePrompt,
    Prompt,
    TokenLogprobs,
    check_placeholders,
    cut_at_stop,
    decode_image,
    image_token_id,
)
from judgelm_ray.engines.score_line import ScoreLine

# A prompt's images: decoded, and the ids their placeholders became, in order.
_Pictures = tuple[list, list[int]]

_DTYPES: dict[str, torch.dtype | str] = {
    "auto": "auto",  # the checkpoint's dtype
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


class HFEngine:
    # Prompts per `generate` call (judge.engine_settings.max_num_seqs): bounds activation and KV-cache memory.
    batch_size = 16

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        seed: int = 0,
        settings: dict | None = None,
    ) -> None:
        # One device per engine, and the model's own context: max_model_len and
        # tensor_parallel_size are vLLM's settings, accepted so every engine is built alike.
        # settings: max_num_seqs (the batch size), and the rest for from_pretrained (attn_implementation, ...).
        loading = dict(settings or {})
        self.batch_size = loading.pop("max_num_seqs", self.batch_size)
        if dtype not in _DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; choices: {', '.join(_DTYPES)}")
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        # Left padding keeps every prompt's last token at the end, where generation continues.
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.image_id = image_token_id(AutoConfig.from_pretrained(model))  # None for a text-only model
        if self.image_id is None:
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=_DTYPES[dtype], **loading)
        else:
            self.processor = AutoProcessor.from_pretrained(model)
            # The placeholder as the processor's prompt text has it, e.g. "<image>".
            self.image_text = self.tokenizer.convert_ids_to_tokens(self.image_id)
            self.model = AutoModelForImageTextToText.from_pretrained(model, dtype=_DTYPES[dtype], **loading)
        self.model.to(self.device).eval()
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos) if isinstance(eos, list) else {eos}
        # Like vLLM's engine seed: sampling without a per-request seed continues one stream.
        torch.manual_seed(seed)
        # Per set of line characters (`ScoreLine.characters`): the ids a score line's mask checks.
        self._line_candidates: dict[frozenset[str], list[int]] = {}
        self._stops: dict[tuple[str, ...], StopStringCriteria] = {}

    def resolved_settings(self) -> dict:
        """What the engine runs with (the manifest's engine_settings)."""
        return {"engine": "transformers generate", "max_num_seqs": self.batch_size,
                "dtype": str(self.model.dtype).removeprefix("torch."), "device": str(self.device)}

    @torch.inference_mode()
    def generate(
        self, prompts: list[Prompt], params: GenerationParams | Sequence[GenerationParams]
    ) -> list[Generation]:
        params, lines = _shared(params, len(prompts))
        if params.temperature > 0 and params.seed is not None:
            torch.manual_seed(params.seed)  # once per call: later batches continue the stream
        with_images = {i: p for i, p in enumerate(prompts) if isinstance(p, ImagePrompt)}
        prompt_ids = {
            i: p if isinstance(p, list) else self.tokenizer(p)["input_ids"]
            for i, p in enumerate(prompts)
            if i not in with_images
        }
        # Prompts with images go in batches of their own, so text prompts run exactly as on a text model.
        results = self._in_batches(prompt_ids, params, lines)
        if with_images:
            expanded, pictures = self._expand(with_images)
            results.update(self._in_batches(expanded, params, lines, pictures))
        return [results[i] for i in range(len(prompts))]

    def _in_batches(
        self,
        prompt_ids: dict[int, list[int]],
        params: GenerationParams,
        lines: list[ScoreLine | None],
        pictures: dict[int, _Pictures] | None = None,
    ) -> dict[int, Generation]:
        """`lines`: each prompt's score line, by prompt index."""
        # Batching prompts of similar length wastes less compute on padding.
        order = sorted(prompt_ids, key=lambda i: len(prompt_ids[i]))
        results: dict[int, Generation] = {}
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            ids = [prompt_ids[i] for i in batch]
            pixels = self._pixels([pictures[i] for i in batch]) if pictures else {}
            results.update(zip(batch, self._generate_batch(ids, params, [lines[i] for i in batch], pixels)))
        return results

    def _expand(self, prompts: dict[int, ImagePrompt]) -> tuple[dict[int, list[int]], dict[int, _Pictures]]:
        """Each prompt's ids with every placeholder replaced by what the processor makes of its image,
        and each prompt's pictures."""
        if self.image_id is None:
            raise ValueError(
                f"prompt {min(prompts)} has images, but the model is text-only (its config names no image token)"
            )
        for i, prompt in prompts.items():
            check_placeholders(prompt, self.image_id, i)
        decoded = {i: [decode_image(data) for data in p.images] for i, p in prompts.items()}
        flat = [image for images in decoded.values() for image in images]
        # One text per image: what a placeholder becomes can depend on the image (Idefics3's tile grid).
        encoded = self.processor(
            text=[self.image_text] * len(flat), images=[[image] for image in flat], add_special_tokens=False
        )
        replacements = iter(encoded["input_ids"])
        expanded, pictures = {}, {}
        for i, prompt in prompts.items():
            ids, image_ids = [], []
            for token in prompt.prompt_token_ids:
                if token == self.image_id:
                    replacement = next(replacements)
                    ids += replacement
                    image_ids += replacement
                else:
                    ids.append(token)
            expanded[i], pictures[i] = ids, (decoded[i], image_ids)
        return expanded, pictures

    def _pixels(self, pictures: list[_Pictures]) -> dict[str, torch.Tensor]:
        """The model's image inputs for a batch of prompts, laid out as its processor lays them out
        (pixel_values; Idefics3 adds pixel_attention_mask)."""
        texts = [self.image_text * len(images) for images, _ in pictures]
        encoded = self.processor(
            text=texts, images=[images for images, _ in pictures], add_special_tokens=False, padding=True,
            return_tensors="pt",
        )
        rows = zip(encoded["input_ids"].tolist(), encoded["attention_mask"].tolist())
        for (_, image_ids), (ids, mask) in zip(pictures, rows):
            if [t for t, keep in zip(ids, mask) if keep] != image_ids:
                # _expand assumed a prompt's images expand as each image alone does.
                raise RuntimeError("the processor expands several images of a prompt unlike each image alone")
        text_keys = {"input_ids", "attention_mask", *self.tokenizer.model_input_names}
        return {
            key: value.to(self.device, self.model.dtype) if value.is_floating_point() else value.to(self.device)
            for key, value in encoded.items()
            if key not in text_keys
        }

    def _generate_batch(
        self,
        prompt_ids: list[list[int]],
        params: GenerationParams,
        lines: list[ScoreLine | None],
        pixels: dict[str, torch.Tensor] | None = None,
    ) -> list[Generation]:
        inputs = self.tokenizer.pad({"input_ids": prompt_ids}, return_tensors="pt")
        inputs = {**inputs.to(self.device), **(pixels or {})}
        kwargs: dict = {
            "max_new_tokens": params.max_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if params.temperature > 0:
            # top_k=0 turns off transformers' default top-k of 50, which vLLM does not apply.
            kwargs.update(
                do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0
            )
        else:
            kwargs["do_sample"] = False
        if params.stop:
            # Ends a row at the token that completes a stop string; that token may run past the
            # stop string, so the text is still cut below.
            kwargs["stopping_criteria"] = StoppingCriteriaList([self._stop_criteria(params.stop)])
        start = inputs["input_ids"].shape[1]  # left padding: every row's generated tokens start here
        # Custom processors run after the generation config's own and before temperature and top-p, so the
        # mask never leaves a row with nothing to sample. The recorder goes after the mask, as vLLM's logprobs
        # come after its structured-output mask.
        processors = LogitsProcessorList()
        recorder = _LogprobRecorder(params.logprobs) if params.logprobs > 0 else None
        if any(lines):
            processors.append(_ScoreLineMask(self, lines, start))
        if recorder is not None:
            processors.append(recorder)
        if processors:
            kwargs["logits_processor"] = processors
        output = self.model.generate(**inputs, **kwargs)
        if recorder is not None:
            recorder.finish(output[:, -1])
        new_tokens = output[:, start:].tolist()
        generations = []
        for row, (ids, tokens) in enumerate(zip(prompt_ids, new_tokens)):
            tokens = tokens[: self._finished_length(tokens, params.stop)]
            text = self._decode(tokens)
            logprobs = self._logprobs(tokens, recorder, row) if recorder is not None else None
            generations.append(Generation(cut_at_stop(text, params.stop), len(ids), len(tokens), logprobs=logprobs))
        return generations

    def _logprobs(self, tokens: list[int], recorder: "_LogprobRecorder", row: int) -> list[TokenLogprobs]:
        """A row's recorded logprobs as TokenLogprobs, up to and including the first token whose text holds
        a newline: the score line is all a judge reads them for, and the explanation's would only cost
        memory (as the vLLM engine does)."""
        out = []
        for step, token in enumerate(tokens):
            ids, values = recorder.candidates(step, row, token)
            texts = self._token_texts(ids, context=tokens[max(0, step - 4) : step])
            top: dict[str, float] = {}
            # Best first: two ids may decode alike, and the likelier names the text (as in the vLLM engine).
            for text, value in sorted(zip(texts, values), key=lambda c: -c[1]):
                if value > float("-inf"):  # a token the score-line mask ruled out is no candidate
                    top.setdefault(text, value)
            out.append(TokenLogprobs(token=texts[0], top=top))
            if "\n" in texts[0]:
                break
        return out

    def _token_texts(self, ids: list[int], context: list[int]) -> list[str]:
        """Each id's text decoded alone, as vLLM's `Logprob.decoded_token` has it (vllm 0.32:
        `convert_ids_list_to_tokens`, then `LogprobsProcessor._verify_tokens`), so that both engines name
        tokens alike: `decode([id])`, special tokens kept; under a Metaspace (SentencePiece) pre-tokenizer,
        the leading spaces decode() strips put back from the raw piece; and a text that ends in an
        incomplete UTF-8 character re-decoded after the row's preceding chosen tokens, `context`."""
        texts = []
        for token, piece in zip(ids, self.tokenizer.convert_ids_to_tokens(ids)):
            text = self.tokenizer.decode([token]) or ""
            if self._space_marker and piece:
                missing = (len(piece) - len(piece.lstrip(self._space_marker))) - (len(text) - len(text.lstrip(" ")))
                text = " " * max(missing, 0) + text
            texts.append(self._completed_character(token, context) if text.endswith("\ufffd") else text)
        return texts

    def _completed_character(self, token: int, context: list[int]) -> str:
        """The text `token` adds after the fewest preceding tokens that complete its character ("" when
        none do): vLLM's `_correct_decoded_token`."""
        for n in range(1, min(len(context), 4) + 1):  # a UTF-8 character has at most 4 bytes
            before = context[-n:]
            full = self.tokenizer.decode(before + [token])
            if full.endswith("\ufffd"):
                continue
            # Preceding tokens that were themselves part of the character showed no text of their own.
            clean = len(before)
            while clean and self.tokenizer.decode([before[clean - 1]]).endswith("\ufffd"):
                clean -= 1
            prefix = self.tokenizer.decode(before[:clean]) if clean else ""
            return full[len(os.path.commonprefix([prefix, full])) :]
        return ""

    @cached_property
    def _space_marker(self) -> str | None:
        """The Metaspace pre-tokenizer's replacement character ("▁"), whose leading instances decode() drops
        from a token alone; None for other tokenizers (vLLM's `get_leading_space_marker`)."""
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is None:
            return None
        pre = json.loads(backend.to_str()).get("pre_tokenizer") or {}
        for step in [pre, *pre.get("pretokenizers", [])] if pre.get("type") == "Sequence" else [pre]:
            if step.get("type") == "Metaspace":
                return step.get("replacement", "\u2581")
        return None

    def _line_continuations(self, tokens: list[int], line: ScoreLine) -> list[int] | None:
        """The ids whose text after `tokens` (a row's generated tokens) keeps it on `line`; None once the
        text holds the whole line, when decoding is free. Each candidate is checked by decoding the row
        with it, since a token's text can depend on what precedes it (SentencePiece's "▁8" is "8" at the
        start of a text and " 8" after it)."""
        # Plain decoding: _decode's holding back of an incomplete character could hide the newline.
        if line.complete(self._text(tokens)):
            return None
        candidates = self._candidates(line.characters)
        texts = self.tokenizer.batch_decode([tokens + [c] for c in candidates], skip_special_tokens=True)
        allowed = [c for c, text in zip(candidates, texts) if line.allows(text)]
        if not allowed:
            raise RuntimeError(f"no token of the tokenizer continues {self._text(tokens)!r} on the score line {line}")
        return allowed

    def _candidates(self, characters: frozenset[str]) -> list[int]:
        """The ids that may ever continue a line of `characters`: those whose text before its first newline
        holds no other character, and that add text (special tokens decode to "", so EOS is banned until
        the line is complete). Decoded alone and after a digit, since SentencePiece drops a leading space
        at the start of a text ("▁" alone decodes to "")."""
        if characters not in self._line_candidates:

            def fits(text: str) -> bool:
                return bool(text) and set(text.partition("\n")[0]) <= characters

            anchor = self.tokenizer.encode("1", add_special_tokens=False)
            shown = len(self._text(anchor))
            vocab = range(len(self.tokenizer))
            alone = self.tokenizer.batch_decode([[i] for i in vocab], skip_special_tokens=True)
            after = self.tokenizer.batch_decode([anchor + [i] for i in vocab], skip_special_tokens=True)
            self._line_candidates[characters] = [i for i in vocab if fits(alone[i]) or fits(after[i][shown:])]
        return self._line_candidates[characters]

    def _stop_criteria(self, stop: tuple[str, ...]) -> StopStringCriteria:
        """Built once per engine: transformers' `stop_strings` rebuilds its tables from the whole vocabulary
        on every `generate` call (0.7 s a batch with the tiny model's 32,000 tokens, as long as a batch's work)."""
        if stop not in self._stops:
            self._stops[stop] = StopStringCriteria(tokenizer=self.tokenizer, stop_strings=list(stop))
        return self._stops[stop]

    def _finished_length(self, tokens: list[int], stop: tuple[str, ...]) -> int:
        """Tokens generated up to and including the first EOS or stop-string completion.

        This drops the padding that `generate` appends to rows that finished early (it cannot
        be told apart by id: the model may generate the pad token itself) and, like vLLM, counts
        the token that completes a stop string.
        """
        length = next((i + 1 for i, t in enumerate(tokens) if t in self.eos_ids), len(tokens))
        if not stop or not self._has_stop(tokens[:length], stop):
            return length
        # "Contains a stop string" is monotone in the prefix length, so bisect for the first.
        low, high = 1, length
        while low < high:
            mid = (low + high) // 2
            if self._has_stop(tokens[:mid], stop):
                high = mid
            else:
                low = mid + 1
        return low

    def _has_stop(self, tokens: list[int], stop: tuple[str, ...]) -> bool:
        text = self._decode(tokens)
        return any(s in text for s in stop)

    def _decode(self, tokens: list[int]) -> str:
        """Decode as vLLM's streaming detokenizer does.

        It holds back text that ends in an incomplete UTF-8 character (decoded as U+FFFD)
        until more tokens complete it, so output cut off mid-character omits that character
        instead of ending in U+FFFD.
        """
        text = self._text(tokens)
        while text.endswith("\ufffd") and tokens:
            tokens = tokens[:-1]
            text = self._text(tokens)
        return text

    def _text(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)


def _shared(
    params: GenerationParams | Sequence[GenerationParams], count: int
) -> tuple[GenerationParams, list[ScoreLine | None]]:
    """The settings of a whole `generate` call and each prompt's score line: a batch decodes with one set of
    sampling settings, so per-prompt params may differ only in their score line."""
    if isinstance(params, GenerationParams):
        return params, [params.score_line] * count
    each = list(params)
    if len(each) != count:
        raise ValueError(f"{len(each)} GenerationParams for {count} prompts; pass one, or one per prompt")
    shared = [replace(p, score_line=None) for p in each]
    if any(p != shared[0] for p in shared):
        raise ValueError("per-prompt GenerationParams may differ only in score_line")
    return (shared[0] if shared else GenerationParams()), [p.score_line for p in each]


class _LogprobRecorder(LogitsProcessor):
    """Each step's top-k logprobs and the chosen token's, for every row.

    It sees the distribution as it reaches it among the custom processors: the model's logits after the
    generation config's own processors (none for a plain checkpoint) and after the score-line mask, before
    temperature and top-p. So a sampled token's logprob is the model's, not the tempered one's (vLLM's
    default logprobs_mode, raw_logprobs), and a constrained score's is renormalised over the tokens the line
    allows, as vLLM's are (it applies its structured-output mask first): both engines give the same
    candidates, and `score_signal` renormalises over the score values anyway.
    Only k values per row and step are kept, not the whole vocabulary (which output_scores or output_logits
    would keep on the device for every step); the chosen token's logprob is read at the next step, when the
    token is known.
    """

    def __init__(self, k: int) -> None:
        self.k = k
        self._last: torch.Tensor | None = None  # the last step's logprobs, [rows, vocabulary]
        self._top: list[tuple[torch.Tensor, torch.Tensor]] = []  # per step: values and ids, [rows, k]
        self._chosen: list[torch.Tensor] = []  # per step: the chosen token's logprob, [rows]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._last is not None:
            self._close(input_ids[:, -1])
        self._last = torch.log_softmax(scores.float(), dim=-1)
        self._top.append(self._last.topk(min(self.k, self._last.shape[-1]), dim=-1))
        return scores

    def finish(self, chosen: torch.Tensor) -> None:
        """After generate: the last step's chosen tokens (the output's last column)."""
        if self._last is not None:
            self._close(chosen)
        # Python lists once, [step][row][...], rather than a tensor access per token.
        self._values = torch.stack([values for values, _ in self._top]).tolist()
        self._ids = torch.stack([ids for _, ids in self._top]).tolist()
        self._chosen_values = torch.stack(self._chosen).tolist()

    def candidates(self, step: int, row: int, chosen: int) -> tuple[list[int], list[float]]:
        """A row's ids and logprobs at a step: the chosen token `chosen` first, then the top k."""
        return [chosen, *self._ids[step][row]], [self._chosen_values[step][row], *self._values[step][row]]

    def _close(self, chosen: torch.Tensor) -> None:
        self._chosen.append(self._last.gather(1, chosen[:, None].to(self._last.device)).squeeze(1))
        self._last = None


class _ScoreLineMask(LogitsProcessor):
    """Keeps each constrained row's first line on its ScoreLine: until the row's generated text holds the
    whole line, every token that would leave it gets -inf (EOS too). Rows without a line, and rows whose
    line is complete, are left alone: the explanation is free text. Allowed tokens keep their scores, so a
    greedy row whose line would match anyway decodes exactly as without the mask."""

    def __init__(self, engine: HFEngine, lines: list[ScoreLine | None], start: int) -> None:
        self.engine = engine
        self.start = start
        self.open = {row: line for row, line in enumerate(lines) if line is not None}  # lines not yet complete

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        banned = None
        for row, line in list(self.open.items()):
            allowed = self.engine._line_continuations(input_ids[row, self.start :].tolist(), line)
            if allowed is None:
                del self.open[row]
                continue
            if banned is None:
                banned = torch.zeros_like(scores, dtype=torch.bool)
            banned[row] = True
            banned[row, allowed] = False
        return scores if banned is None else scores.masked_fill(banned, float("-inf"))

