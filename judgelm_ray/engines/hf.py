"""Hugging Face transformers backend: slow but dependency-light, and a reference for vLLM."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from judgelm_ray.engines.base import Generation, GenerationParams, Prompt, cut_at_stop

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
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=_DTYPES[dtype])
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
        prompt_ids = [p if isinstance(p, list) else self.tokenizer(p)["input_ids"] for p in prompts]
        # Batching prompts of similar length wastes less compute on padding.
        order = sorted(range(len(prompts)), key=lambda i: len(prompt_ids[i]))
        results: dict[int, Generation] = {}
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            outputs = self._generate_batch([prompt_ids[i] for i in batch], params)
            results.update(zip(batch, outputs))
        return [results[i] for i in range(len(prompts))]

    def _generate_batch(
        self, prompt_ids: list[list[int]], params: GenerationParams
    ) -> list[Generation]:
        inputs = self.tokenizer.pad({"input_ids": prompt_ids}, return_tensors="pt")
        inputs = inputs.to(self.device)
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

