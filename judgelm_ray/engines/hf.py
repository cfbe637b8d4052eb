"""Hugging Face transformers backend: slow but dependency-light, and a reference for vLLM.

A vision-language model (its config names an image token) is loaded with AutoModelForImageTextToText
and its AutoProcessor; text models keep AutoModelForCausalLM. An `ImagePrompt` carries one placeholder
id per image; the processor gives what each placeholder becomes (LLaVA: the image token repeated once per
image feature; Idefics3: the tiles' markers and tokens) and the pixel tensors, as vLLM does with the same
processor.
"""

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

from judgelm_ray.engines.base import (
    Generation,
    GenerationParams,
    ImagePrompt,
    Prompt,
    check_placeholders,
    cut_at_stop,
    decode_image,
    image_token_id,
)

# A prompt's images: decoded, and the ids their placeholders became, in order.
_Pictures = tuple[list, list[int]]

_DTYPES: dict[str, torch.dtype | str] = {
    "auto": "auto",  # the checkpoint's dtype
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


class HFEngine:
    # Prompts per `generate` call: bounds activation and KV-cache memory.
    batch_size = 16

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        seed: int = 0,
    ) -> None:
        # One device per engine, and the model's own context: max_model_len and
        # tensor_parallel_size are vLLM's settings, accepted so every engine is built alike.
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
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=_DTYPES[dtype])
        else:
            self.processor = AutoProcessor.from_pretrained(model)
            # The placeholder as the processor's prompt text has it, e.g. "<image>".
            self.image_text = self.tokenizer.convert_ids_to_tokens(self.image_id)
            self.model = AutoModelForImageTextToText.from_pretrained(model, dtype=_DTYPES[dtype])
        self.model.to(self.device).eval()
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos) if isinstance(eos, list) else {eos}
        # Like vLLM's engine seed: sampling without a per-request seed continues one stream.
        torch.manual_seed(seed)

    @torch.inference_mode()
    def generate(self, prompts: list[Prompt], params: GenerationParams) -> list[Generation]:
        if params.temperature > 0 and params.seed is not None:
            torch.manual_seed(params.seed)  # once per call: later batches continue the stream
        with_images = {i: p for i, p in enumerate(prompts) if isinstance(p, ImagePrompt)}
        prompt_ids = {
            i: p if isinstance(p, list) else self.tokenizer(p)["input_ids"]
            for i, p in enumerate(prompts)
            if i not in with_images
        }
        # Prompts with images go in batches of their own, so text prompts run exactly as on a text model.
        results = self._in_batches(prompt_ids, params)
        if with_images:
            expanded, pictures = self._expand(with_images)
            results.update(self._in_batches(expanded, params, pictures))
        return [results[i] for i in range(len(prompts))]

    def _in_batches(
        self, prompt_ids: dict[int, list[int]], params: GenerationParams, pictures: dict[int, _Pictures] | None = None
    ) -> dict[int, Generation]:
        # Batching prompts of similar length wastes less compute on padding.
        order = sorted(prompt_ids, key=lambda i: len(prompt_ids[i]))
        results: dict[int, Generation] = {}
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            ids = [prompt_ids[i] for i in batch]
            pixels = self._pixels([pictures[i] for i in batch]) if pictures else {}
            results.update(zip(batch, self._generate_batch(ids, params, pixels)))
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
        self, prompt_ids: list[list[int]], params: GenerationParams, pixels: dict[str, torch.Tensor] | None = None
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
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        output = self.model.generate(**inputs, **kwargs)
        new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()
        generations = []
        for ids, tokens in zip(prompt_ids, new_tokens):
            tokens = tokens[: self._finished_length(tokens, params.stop)]
            text = self._decode(tokens)
            generations.append(Generation(cut_at_stop(text, params.stop), len(ids), len(tokens)))
        return generations

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
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        while text.endswith("\ufffd") and tokens:
            tokens = tokens[:-1]
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return text

