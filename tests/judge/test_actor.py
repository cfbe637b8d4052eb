"""The judge actor's batch logic with stand-in engines: a prompt the engine refuses, or an API request that
failed, costs only its own row; what each engine kind is built with; the key never shows."""

from __future__ import annotations

import pyarrow as pa

from judgelm_ray.engines.base import ChatPrompt, Generation, GenerationParams
from judgelm_ray.judge.actor import JudgeActor, Secret, engine_options
from judgelm_ray.judge.schemas import REQUESTS
from judgelm_ray.spec import spec_from_dict


class RefusesLongPrompts:
    """Refuses a whole batch holding a prompt over 3 tokens, as vLLM does for one over its context."""

    def __init__(self):
        self.calls = []

    def generate(self, prompts, params):
        self.calls.append(len(prompts))
        if any(len(p) > 3 for p in prompts):
            raise ValueError("The decoder prompt (length 4) is longer than the maximum model length of 3.\nmore")
        return [Generation(text=f"{len(p)} 1", prompt_tokens=len(p), completion_tokens=2) for p in prompts]


class AnswersByPrompt:
    """An API engine's answers: a failed request for the prompt "fail", the prompt echoed otherwise."""

    retries = 0

    def __init__(self):
        self.prompts = []

    def generate(self, prompts, params):
        self.prompts += prompts
        return [Generation("", 0, 0, error="HTTP 500 after 3 tries: down") if p == "fail" else Generation(str(p), 5, 1)
                for p in prompts]


def request(order, ids, **fields):
    return {"order": order, "prompt_token_ids": ids, "prompt_tokens": len(ids) if ids else None, "text": None,
            "completion_tokens": None, "images": None, "engine_error": None, "prompt_text": None, "messages": None,
            **fields}


def bare_actor(engine) -> JudgeActor:
    actor = object.__new__(JudgeActor)  # the batch logic only: no Ray actor, no model
    actor.engine, actor.params, actor.tally, actor.retries = engine, GenerationParams(), None, 0
    return actor


def test_a_refused_prompt_fails_alone_with_the_engines_reason():
    actor = bare_actor(RefusesLongPrompts())
    rows = [[request("forward", [1, 2]), request("swapped", [2, 1])], [request("forward", [1, 2, 3, 4])]]
    out = actor(pa.table({"requests": pa.array(rows, type=REQUESTS)})).column("requests").to_pylist()
    assert actor.engine.calls == [3, 1, 1, 1]  # the batch, then each prompt alone
    assert [r["text"] for r in out[0]] == ["2 1", "2 1"] and out[1][0]["text"] is None
    assert out[1][0]["engine_error"] == ("the engine refused the prompt: The decoder prompt (length 4) is longer than "
                                         "the maximum model length of 3.")
    assert all(r["prompt_token_ids"] is None for row in out for r in row)


def test_an_api_judge_gets_text_or_messages_and_a_failed_request_is_the_rows_error():
    actor = bare_actor(AnswersByPrompt())
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    rows = [[request("forward", None, prompt_text="ok")], [request("forward", None, prompt_text="fail")],
            [request("forward", None, messages=messages)]]
    out = actor(pa.table({"requests": pa.array(rows, type=REQUESTS)})).column("requests").to_pylist()
    assert actor.engine.prompts == ["ok", "fail", ChatPrompt(messages=messages)]
    assert out[0][0]["text"] == "ok" and out[0][0]["prompt_tokens"] == 5 and out[0][0]["engine_error"] is None
    assert out[1][0]["text"] is None and out[1][0]["engine_error"] == "HTTP 500 after 3 tries: down"
    assert all(r["prompt_text"] is None and r["messages"] is None for row in out for r in row)


def test_each_engine_kind_is_built_with_its_own_options_and_the_key_never_shows():
    def judge(**fields):
        return spec_from_dict({"name": "t", "input": {"path": "x"}, "judge": fields}).judge

    assert engine_options(judge(model="m"), None) == {}
    assert engine_options(judge(model="m", engine="fixed-latency", fixed_latency_ms=3.0), None) == {"latency_ms": 3.0}
    api = judge(engine="openai", endpoint={"base_url": "http://h/v1", "model": "x", "requests_per_second": 10.0},
                pool={"max_actors": 4})
    key = Secret("sk-secret")
    options = engine_options(api, key)
    assert options["api_key"] == "sk-secret" and options["share"] == 4 and options["endpoint"]["model"] == "x"
    assert "sk-secret" not in repr(key) and "sk-secret" not in str(key) and "sk-secret" not in repr(api)
