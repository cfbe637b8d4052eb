"""The judge actor's batch logic with a stand-in engine: a prompt the engine refuses costs only its own row."""

from __future__ import annotations

import pyarrow as pa

from judgelm_ray.engines.base import Generation, GenerationParams
from judgelm_ray.judge.actor import JudgeActor
from judgelm_ray.judge.schemas import REQUESTS


class RefusesLongPrompts:
    """Refuses a whole batch holding a prompt over 3 tokens, as vLLM does for one over its context."""

    def __init__(self):
        self.calls = []

    def generate(self, prompts, params):
        self.calls.append(len(prompts))
        if any(len(p) > 3 for p in prompts):
            raise ValueError("The decoder prompt (length 4) is longer than the maximum model length of 3.\nmore")
        return [Generation(text=f"{len(p)} 1", prompt_tokens=len(p), completion_tokens=2) for p in prompts]


def request(order, ids):
    return {"order": order, "prompt_token_ids": ids, "prompt_tokens": len(ids), "text": None, "completion_tokens": None,
            "images": None, "engine_error": None}


def test_a_refused_prompt_fails_alone_with_the_engines_reason():
    actor = object.__new__(JudgeActor)  # the batch logic only: no Ray actor, no model
    actor.engine, actor.params = RefusesLongPrompts(), GenerationParams()
    rows = [[request("forward", [1, 2]), request("swapped", [2, 1])], [request("forward", [1, 2, 3, 4])]]
    out = actor(pa.table({"requests": pa.array(rows, type=REQUESTS)})).column("requests").to_pylist()
    assert actor.engine.calls == [3, 1, 1, 1]  # the batch, then each prompt alone
    assert [r["text"] for r in out[0]] == ["2 1", "2 1"] and out[1][0]["text"] is None
    assert out[1][0]["engine_error"] == "The decoder prompt (length 4) is longer than the maximum model length of 3."
    assert all(r["prompt_token_ids"] is None for row in out for r in row)
