"""A stand-in engine for benchmarks of the pipeline itself: no model, a fixed wait per prompt.

It still loads the tokenizer of `judge.model` (the CPU stages need it for their length checks
anyway) and reads the number of answers from each prompt, so its score line ("5 5" for two
answers) parses in every mode. Not a judge: every row gets the same scores.
"""

from __future__ import annotations

import re
import time

from judgelm_ray import tokenizer
from judgelm_ray.engines.base import Generation, ImagePrompt, Prompt
from judgelm_ray.prompts import SINGLE_SCORE_PREFIX

_ANSWER_START = re.compile(r"\[The Start of Assistant (\d+)'s Answer\]")


class FixedLatencyEngine:
    def __init__(self, model: str, *, settings: dict | None = None, **_vllm_settings) -> None:
        # dtype, max_model_len, tensor_parallel_size and seed mean nothing without a model; its one setting is
        # judge.engine_settings.engine_kwargs.latency_ms.
        self.tokenizer = tokenizer.Tokenizer(model)
        self.latency_s = float((settings or {}).get("latency_ms", 0.0)) / 1000

    def generate(self, prompts: list[Prompt], params) -> list[Generation]:
        generations = []
        for prompt in prompts:
            if isinstance(prompt, ImagePrompt):  # the images mean nothing without a model
                prompt = prompt.prompt_token_ids
            ids = prompt if isinstance(prompt, list) else self.tokenizer.encode([prompt])[0]
            text = prompt if isinstance(prompt, str) else self.tokenizer.decode(ids)
            answers = max((int(n) for n in _ANSWER_START.findall(text)), default=1)
            # Single-answer grading pre-fills the first score: generate the others only.
            scores = answers - 1 if text.rstrip().endswith(SINGLE_SCORE_PREFIX) else answers
            generations.append(Generation(" ".join(["5"] * max(scores, 1)) + "\n", len(ids), scores))
        time.sleep(self.latency_s * len(prompts))
        return generations
