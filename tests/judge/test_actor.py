"""The judge actor's batch logic with stand-in engines: a prompt the engine refuses, or an API request that
failed, costs only its own row; what each engine kind is built with; the key never shows."""

from __future__ import annotations

import pyarrow as pa

from judgelm_ray.engines.base import ChatPrompt, Generation, GenerationParams
from judgelm_ray.engines.score_line import ScoreLine
from judgelm_ray.judge.actor import JudgeActor, Secret, _placement_group, actor_placement, engine_options
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
    actor.mode, actor.constrain = "pairwise", False
    return actor


def batch_of(rows: list[list[dict]], questions: list[str] | None = None) -> pa.Table:
    """A batch as the actor gets it: each row's requests, question and answers."""
    return pa.table({"requests": pa.array(rows, type=REQUESTS),
                     "question": questions or [f"q{i}" for i in range(len(rows))],
                     "answers": [["a", "b"]] * len(rows)})


def test_a_refused_prompt_fails_alone_with_the_engines_reason():
    actor = bare_actor(RefusesLongPrompts())
    rows = [[request("forward", [1, 2]), request("swapped", [2, 1])], [request("forward", [1, 2, 3, 4])]]
    out = actor(batch_of(rows)).column("requests").to_pylist()
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
    out = actor(batch_of(rows)).column("requests").to_pylist()
    assert actor.engine.prompts == ["ok", "fail", ChatPrompt(messages=messages)]
    assert out[0][0]["text"] == "ok" and out[0][0]["prompt_tokens"] == 5 and out[0][0]["engine_error"] is None
    assert out[1][0]["text"] is None and out[1][0]["engine_error"] == "HTTP 500 after 3 tries: down"
    assert all(r["prompt_text"] is None and r["messages"] is None for row in out for r in row)


def test_each_engine_kind_is_built_with_its_own_options_and_the_key_never_shows():
    def judge(**fields):
        return spec_from_dict({"name": "t", "input": {"path": "x"}, "judge": fields}).judge

    assert engine_options(judge(model="m", pool={"gpus_per_actor": 0.0}), None) == {"settings": {}, "concurrent": False}
    gpu = judge(model="m", pool={"gpus_per_actor": 1.0}, engine_settings={"max_num_seqs": 512, "engine_kwargs": {"x": 1}})
    assert engine_options(gpu, None) == {"settings": {"max_num_seqs": 512, "x": 1}, "concurrent": True}
    fixed = judge(model="m", engine="fixed-latency", engine_settings={"engine_kwargs": {"latency_ms": 3.0}})
    assert engine_options(fixed, None) == {"settings": {"latency_ms": 3.0}}
    api = judge(engine="openai", endpoint={"base_url": "http://h/v1", "model": "x", "requests_per_second": 10.0},
                pool={"max_actors": 4})
    key = Secret("sk-secret")
    options = engine_options(api, key)
    assert options["api_key"] == "sk-secret" and options["share"] == 4 and options["endpoint"]["model"] == "x"
    assert "sk-secret" not in repr(key) and "sk-secret" not in str(key) and "sk-secret" not in repr(api)


class Records:
    """Answers every prompt with a valid line and records what it was asked, in the order asked."""

    def __init__(self):
        self.prompts, self.params = [], None

    def generate(self, prompts, params):
        self.prompts, self.params = list(prompts), params
        return [Generation("5 5", len(p), 2) for p in prompts]


def test_a_rows_orders_and_rows_of_one_question_reach_the_engine_side_by_side():
    actor = bare_actor(Records())
    rows = [[request("forward", [i, 0]), request("swapped", [i, 1])] for i in range(4)]
    actor(batch_of(rows, questions=["b?", "a?", "b?", "a?"]))
    # Prompts of one question share a prefix up to the first answer: vLLM's prefix cache computes it once.
    assert actor.engine.prompts == [[1, 0], [1, 1], [3, 0], [3, 1], [0, 0], [0, 1], [2, 0], [2, 1]]
    assert actor.engine.params == GenerationParams()


def test_a_constrained_judge_gets_each_rows_own_score_line():
    actor = bare_actor(Records())
    actor.constrain, actor.mode = True, "multi"
    batch = batch_of([[request("forward", [1])], [request("forward", [2])]])
    batch = batch.set_column(batch.schema.get_field_index("answers"), "answers", pa.array([["a", "b", "c"], ["a", "b"]]))
    actor(batch)
    assert [p.score_line for p in actor.engine.params] == [ScoreLine(3), ScoreLine(2)]
    actor.mode = "single"
    actor(batch_of([[request("forward", [1])]]))
    assert [p.score_line for p in actor.engine.params] == [ScoreLine(1, lead=" ")]


def test_a_tensor_parallel_vllm_actor_holds_its_gpus_through_a_placement_group():
    assert actor_placement(spec_judge(pool={"accelerator_type": "A100"})) == {
        "num_gpus": 1.0, "num_cpus": 1.0, "accelerator_type": "A100"}
    placed = actor_placement(spec_judge(tensor_parallel_size=4, pool={"gpus_per_actor": 4, "accelerator_type": "H100"}))
    # The actor reserves no GPU itself: vLLM's workers take the bundles' GPUs.
    assert placed["num_gpus"] == 0 and placed["ray_remote_args_fn"].args == (4, 1.0, "H100")
    assert "accelerator_type" not in placed
    # An HF judge runs on one device whatever tensor_parallel_size says.
    assert actor_placement(spec_judge(engine="hf", tensor_parallel_size=2, pool={"gpus_per_actor": 2}))["num_gpus"] == 2


def test_the_placement_group_packs_one_gpu_bundle_per_shard_on_one_node(monkeypatch):
    made = {}

    def placement_group(bundles, strategy):
        made.update(bundles=bundles, strategy=strategy)
        return "group"

    monkeypatch.setattr("ray.util.placement_group", placement_group)
    monkeypatch.setattr("judgelm_ray.judge.actor.PlacementGroupSchedulingStrategy", lambda group, **kw: (group, kw))
    args = _placement_group(2, 1.5, "H100")
    assert made == {"strategy": "STRICT_PACK", "bundles": [
        {"GPU": 1.0, "CPU": 1.5, "accelerator_type:H100": 0.001}, {"GPU": 1.0, "accelerator_type:H100": 0.001}]}
    assert args == {"scheduling_strategy": ("group", {"placement_group_capture_child_tasks": True})}


def spec_judge(**fields):
    return spec_from_dict({"name": "t", "input": {"path": "x"}, "judge": {"model": "m", **fields}}).judge
