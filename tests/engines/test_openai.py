"""engine openai against a scripted OpenAI-compatible server on loopback (`support.fake_openai`): answers in
prompt order, the request bodies, retries and Retry-After, per-prompt failures, what stops the run, the
concurrency and rate limits, the endpoint check; the key never shows. No vLLM, no Ray."""

from __future__ import annotations

import email.utils
import random
import socket
from contextlib import contextmanager

import pytest

from judgelm_ray.engines import load_engine
from judgelm_ray.engines.base import ChatPrompt, Generation, GenerationParams, ImagePrompt, TokenLogprobs
from judgelm_ray.engines.openai import (
    EndpointError,
    OpenAIEngine,
    RateLimiter,
    check_endpoint,
    parse_retry_after,
    read_answer,
    request_body,
    retry_delay,
)
from support.fake_openai import FakeOpenAI, Reply

KEY = "sk-unit-test-key-DO-NOT-LEAK-0123abcd"
PARAMS = GenerationParams(max_tokens=8, seed=3, stop=("\n",))


def endpoint(base_url: str, **overrides) -> dict:
    return {"base_url": base_url, "model": "judge", "api": "completions", "api_key_env": "JUDGE_KEY",
            "timeout_s": 5.0, "concurrency": 4, "requests_per_second": None, "tokens_per_minute": None,
            "max_retries": 2, "backoff_s": 0.01, "max_backoff_s": 0.05, "fail_after": 20,
            "price_per_million": None, **overrides}


@contextmanager
def engine_at(base_url: str, api_key: str | None = KEY, share: int = 1, **overrides):
    engine = OpenAIEngine(None, endpoint=endpoint(base_url, **overrides), api_key=api_key, share=share, seed=0)
    try:
        yield engine
    finally:
        engine.close()


def prompt_of(seen) -> str:
    return seen.body.get("prompt") if "prompt" in seen.body else seen.body["messages"][-1]["content"]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_answers_come_in_prompt_order_and_token_ids_reach_the_server_as_ids():
    def script(n, seen):
        if prompt_of(seen) == "cut":  # a server that ran past the stop string, and sent no usage
            return Reply(body={"choices": [{"text": "7 8\nmore"}]})
        # The first prompts answer last: the order comes from the engine, not the server.
        return Reply(delay_s={"first": 0.3, "second": 0.15}.get(str(prompt_of(seen)), 0.0))

    with FakeOpenAI(script) as server, engine_at(server.base_url) as engine:
        got = engine.generate(["first", "second", [5, 6, 7], "cut"], PARAMS)
        assert got == [Generation("echo first", 5, 3), Generation("echo second", 6, 3),
                       Generation("echo 5,6,7", 3, 3), Generation("7 8", 0, 0)]
        ids = next(s for s in server.posts if s.body["prompt"] == [5, 6, 7])
        assert ids.path == "/v1/completions" and ids.headers["authorization"] == f"Bearer {KEY}"
        assert ids.body == {"model": "judge", "max_tokens": 8, "temperature": 0.0, "top_p": 1.0, "n": 1, "seed": 3,
                            "stop": ["\n"], "prompt": [5, 6, 7]}
        # No seed and no stop strings: neither is sent.
        engine.generate(["plain"], GenerationParams(max_tokens=4))
        assert "seed" not in server.posts[-1].body and "stop" not in server.posts[-1].body
        assert engine.retries == 0 and KEY not in repr(engine)


def test_chat_sends_messages_and_prompts_an_api_cannot_take_are_refused_before_sending():
    messages = [{"role": "system", "content": "Judge fairly."}, {"role": "user", "content": "Which is better?"}]

    def script(n, seen):
        if prompt_of(seen) == "null":
            return Reply(body={"choices": [{"message": {"role": "assistant", "content": None}}]})
        return None

    with FakeOpenAI(script) as server, engine_at(server.base_url, api="chat") as engine:
        got = engine.generate([ChatPrompt(messages), "a judge prompt", "null"], PARAMS)
        assert got == [Generation("echo Which is better?", 2, 3), Generation("echo a judge prompt", 1, 3),
                       Generation("", 0, 0)]
        by_prompt = {prompt_of(s): s for s in server.posts}
        assert by_prompt["Which is better?"].path == "/v1/chat/completions"
        assert by_prompt["Which is better?"].body["messages"] == messages
        assert by_prompt["a judge prompt"].body["messages"] == [{"role": "user", "content": "a judge prompt"}]
        sent = len(server.posts)
        with pytest.raises(ValueError, match="takes messages, not token ids"):
            engine.generate(["fine", [1, 2, 3]], PARAMS)
        with pytest.raises(ValueError, match="^engine openai does not send images$"):
            engine.generate([ImagePrompt([1], [b"png"])], PARAMS)
        assert len(server.posts) == sent  # nothing of a refused batch was sent
    with FakeOpenAI() as server, engine_at(server.base_url) as engine:
        with pytest.raises(ValueError, match="takes a prompt, not chat messages"):
            engine.generate([ChatPrompt(messages)], PARAMS)
        with pytest.raises(ValueError, match="^engine openai does not send images$"):
            engine.generate([ImagePrompt([1], [b"png"])], PARAMS)
        assert server.posts == []


def test_429_5xx_and_a_dropped_connection_are_retried_waiting_at_least_what_retry_after_asks():
    faults = [Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"}),
              Reply(503, "overloaded", {"retry-after-ms": "300"}), Reply(500), Reply(drop=True)]
    with FakeOpenAI(lambda n, seen: faults[n] if n < len(faults) else None) as server, \
            engine_at(server.base_url, max_retries=4) as engine:
        assert engine.generate(["q"], PARAMS) == [Generation("echo q", 1, 3)]
        assert engine.retries == 4 and len(server.posts) == 5
        times = [s.at for s in server.posts]
        assert times[1] - times[0] >= 1.0 and times[2] - times[1] >= 0.3
        # Without Retry-After the jittered backoff stays within max_backoff_s (0.05 s) of the answer.
        assert times[3] - times[2] < 0.5


def test_a_request_that_keeps_failing_becomes_its_prompts_error_and_the_others_succeed():
    # The server's message quotes the key (as some APIs do): it is redacted, and kept to one line.
    def script(n, seen):
        if prompt_of(seen) == "bad":
            return Reply(500, {"error": {"message": f"upstream broke for {KEY}\nat line 2"}})
        if prompt_of(seen) == "long":
            return Reply(500, {"error": {"message": "x" * 1000}})
        return None

    with FakeOpenAI(script) as server, engine_at(server.base_url) as engine:
        got = engine.generate(["ok", "bad", "fine", "long"], PARAMS)
        assert got[0] == Generation("echo ok", 2, 3) and got[2] == Generation("echo fine", 4, 3)
        assert got[1] == Generation("", 0, 0, error="HTTP 500 after 3 tries: upstream broke for *** at line 2")
        assert got[3].error == "HTTP 500 after 3 tries: " + "x" * 300
        assert [prompt_of(s) for s in server.posts].count("bad") == 3 and engine.retries == 4


def test_slow_answers_time_out_and_a_closed_port_cannot_connect_after_the_retries():
    slow = lambda n, seen: Reply(delay_s=1.0) if prompt_of(seen) == "slow" else None  # noqa: E731
    with FakeOpenAI(slow) as server, engine_at(server.base_url, timeout_s=0.2, max_retries=1) as engine:
        got = engine.generate(["slow", "quick"], PARAMS)
        assert got == [Generation("", 0, 0, error="no answer within 0.2 s after 2 tries"),
                       Generation("echo quick", 5, 3)]
    url = closed_port_url()
    with engine_at(url, max_retries=1) as engine:
        (got,) = engine.generate(["q"], PARAMS)
        assert got.error.startswith(f"cannot connect to {url} after 2 tries: ") and KEY not in got.error


def test_400_422_and_an_answer_that_is_not_json_are_not_retried():
    replies = {"long": Reply(400, {"object": "error", "message": "This model's maximum context length is 2048"}),
               "odd": Reply(422, "field required: prompt"), "html": Reply(200, "<html>proxy page</html>"),
               "empty": Reply(200, {"choices": []})}
    with FakeOpenAI(lambda n, seen: replies.get(prompt_of(seen))) as server, engine_at(server.base_url) as engine:
        got = engine.generate(list(replies), PARAMS)
        assert [g.error for g in got[:2]] == ["HTTP 400 after 1 try: This model's maximum context length is 2048",
                                             "HTTP 422 after 1 try: field required: prompt"]
        assert got[2].error.startswith("HTTP 200 with an answer that is not the API's JSON after 1 try: ")
        assert "choices[0].text" in got[3].error
        assert len(server.posts) == 4 and engine.retries == 0


def test_fail_after_requests_in_a_row_failing_stops_the_run_and_a_success_resets_the_count():
    with FakeOpenAI(lambda n, seen: Reply(503)) as server, \
            engine_at(server.base_url, max_retries=1, fail_after=3, concurrency=1) as engine:
        with pytest.raises(EndpointError) as stopped:
            engine.generate([f"q{i}" for i in range(8)], PARAMS)
        assert str(stopped.value).startswith(f"judge.endpoint: 3 requests in a row failed after their retries at "
                                             f"{server.base_url}; last: HTTP 503 after 2 tries: Service Unavailable")
        assert len(server.posts) < 16  # the batch's remaining requests were dropped, not all tried
    bad = lambda n, seen: Reply(503) if prompt_of(seen) == "bad" else None  # noqa: E731
    with FakeOpenAI(bad) as server, engine_at(server.base_url, max_retries=0, fail_after=2, concurrency=1) as engine:
        got = engine.generate(["bad", "ok", "bad", "ok", "bad"], PARAMS)
        assert [g.error is None for g in got] == [False, True, False, True, False]


def test_a_refused_key_or_a_wrong_url_stops_the_run_naming_what_to_change_never_the_key():
    refused = Reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}})
    with FakeOpenAI(lambda n, seen: refused) as server, engine_at(server.base_url) as engine:
        with pytest.raises(EndpointError) as error:
            engine.generate(["a", "b", "c"], PARAMS)
        message = str(error.value)
        assert message == (f"judge.endpoint.api_key_env: the server refused the key in $JUDGE_KEY (HTTP 401 from "
                           f"{server.base_url}: Incorrect API key provided: ***); put a valid key for this endpoint "
                           "in $JUDGE_KEY")
        assert KEY not in repr(error.value) and error.value.__cause__ is None and engine.retries == 0
    with FakeOpenAI(lambda n, seen: Reply(403, "forbidden")) as server, engine_at(server.base_url, None) as engine:
        with pytest.raises(EndpointError, match="no key given: set judge.endpoint.api_key_env"):
            engine.generate(["a"], PARAMS)
        assert "authorization" not in server.posts[0].headers
    missing = Reply(404, {"error": {"message": "The model `judge` does not exist."}})
    with FakeOpenAI(lambda n, seen: missing) as server, engine_at(server.base_url) as engine:
        with pytest.raises(EndpointError) as error:
            engine.generate(["a"], PARAMS)
        assert str(error.value).startswith(f"judge.endpoint: HTTP 404 from {server.base_url} (The model `judge` "
                                           "does not exist.); check base_url")


def test_requests_in_flight_never_exceed_concurrency():
    with FakeOpenAI(lambda n, seen: Reply(delay_s=0.1)) as server, engine_at(server.base_url, concurrency=3) as engine:
        got = engine.generate([f"q{i}" for i in range(12)], PARAMS)
        assert [g.text for g in got] == [f"echo q{i}" for i in range(12)]
        assert server.max_in_flight == 3


def test_each_actor_takes_its_share_of_the_runs_request_rate():
    # 8 requests/s over 2 actors: 4/s each, a second's worth (4) at once, then one every 0.25 s.
    with FakeOpenAI() as server, engine_at(server.base_url, share=2, requests_per_second=8, concurrency=8) as engine:
        engine.generate([f"q{i}" for i in range(6)], PARAMS)
        times = sorted(s.at for s in server.posts)
        # The burst is not spaced (spaced at 4/s, the first four would take 0.75 s; the bound leaves room for a
        # loaded machine), and the two after it are: 0.25 s each at least.
        assert times[3] - times[0] < 0.6 and times[5] - times[0] >= 0.45


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_spaces_requests_and_tokens_on_a_fake_clock():
    clock = FakeClock()
    requests = RateLimiter(2, None, clock)  # a burst of 2, then one every 0.5 s
    assert [requests.reserve(1000) for _ in range(4)] == [0, 0, 0.5, 1.0]
    clock.now += 60  # idle: the bucket fills up to its capacity, no further
    assert [requests.reserve(1) for _ in range(3)] == [0, 0, 0.5]

    tokens = RateLimiter(None, 600, clock)  # 10 tokens/s, 10 at once
    assert tokens.reserve(5) == 0 and tokens.reserve(5) == 0
    assert tokens.reserve(20) == pytest.approx(2.0)  # bigger than the bucket: it still goes, after a wait
    clock.now += 2
    assert tokens.reserve(1) == pytest.approx(0.1)

    both = RateLimiter(1, 60, clock)  # the longer wait of the two buckets
    assert both.reserve(3) == pytest.approx(2.0)
    assert RateLimiter(None, None, clock).reserve(10**9) == 0


def test_retry_delay_doubles_up_to_the_cap_with_seeded_jitter_and_never_undercuts_retry_after():
    rng = random.Random(0)
    for retry in range(12):
        assert 0 <= retry_delay(retry, 0.5, 8.0, rng) <= min(8.0, 0.5 * 2**retry)
    draws = [[retry_delay(r, 1.0, 60.0, random.Random(seed)) for r in range(5)] for seed in (7, 7, 8)]
    assert draws[0] == draws[1] != draws[2]
    assert retry_delay(0, 1.0, 60.0, random.Random(0), retry_after=5.0) == 5.0
    assert retry_delay(10, 1.0, 60.0, random.Random(0), retry_after=0.001) > 0.001


def test_parse_retry_after_reads_seconds_milliseconds_and_http_dates():
    now = 1_700_000_000.0
    assert parse_retry_after({"Retry-After": "2"}, now) == 2.0
    assert parse_retry_after({"retry-after": "1.5"}, now) == 1.5
    assert parse_retry_after({"Retry-After": "1", "retry-after-ms": "250"}, now) == 0.25
    assert parse_retry_after({"Retry-After": email.utils.formatdate(now + 30, usegmt=True)}, now) == 30.0
    assert parse_retry_after({"Retry-After": email.utils.formatdate(now - 30, usegmt=True)}, now) == 0.0
    assert parse_retry_after({"Retry-After": "-3"}, now) == 0.0
    for junk in ({}, {"Retry-After": "soon"}, {"Retry-After": "inf"}, {"Content-Type": "text/plain"}):
        assert parse_retry_after(junk, now) is None


def test_check_endpoint_passes_a_served_model_and_names_what_to_change_otherwise():
    with FakeOpenAI() as server:
        check_endpoint(endpoint(server.base_url), KEY)
        assert server.gets[0].path == "/v1/models" and server.gets[0].headers["authorization"] == f"Bearer {KEY}"
        with pytest.raises(EndpointError) as error:
            check_endpoint(endpoint(server.base_url, model="gpt-4"), KEY)
        assert str(error.value) == f"judge.endpoint.model: 'gpt-4' is not served at {server.base_url}; it serves: judge"
    many = Reply(body={"data": [{"id": f"m{i}"} for i in range(12)]})
    with FakeOpenAI(models=many) as server, pytest.raises(EndpointError) as error:
        check_endpoint(endpoint(server.base_url), KEY)
    assert str(error.value).endswith("it serves: m0, m1, m2, m3, m4, m5, m6, m7, m8, m9 (and 2 more)")
    # Not every server lists its models: no list, no complaint.
    for quiet in (Reply(404, "not found"), Reply(body="<html>models</html>"), Reply(body={"object": "list"})):
        with FakeOpenAI(models=quiet) as server:
            check_endpoint(endpoint(server.base_url), KEY)
    refused = Reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}})
    with FakeOpenAI(models=refused) as server, pytest.raises(EndpointError) as error:
        check_endpoint(endpoint(server.base_url), KEY)
    assert "$JUDGE_KEY" in str(error.value) and KEY not in str(error.value)
    url = closed_port_url()
    with pytest.raises(EndpointError) as error:
        check_endpoint(endpoint(url), KEY)
    assert str(error.value).startswith(f"judge.endpoint.base_url: cannot connect to {url} (")
    assert str(error.value).endswith("); is the server running?")


def test_load_engine_builds_it_from_the_table_and_close_stops_its_thread():
    with FakeOpenAI() as server:
        engine = load_engine("openai", None, seed=0, endpoint=endpoint(server.base_url), api_key=KEY, share=1)
        assert isinstance(engine, OpenAIEngine) and engine.generate(["q"], PARAMS)[0].text == "echo q"
        engine.close()
        engine.close()  # idempotent
        assert not engine._thread.is_alive()


def test_both_apis_ask_for_and_return_the_score_lines_logprobs():
    params = GenerationParams(logprobs=20)
    assert request_body("p", params, "m", "completions")["logprobs"] == 20
    chat = request_body("p", params, "m", "chat")
    assert chat["logprobs"] is True and chat["top_logprobs"] == 20
    assert "logprobs" not in request_body("p", GenerationParams(), "m", "completions")

    completion = {"choices": [{"text": "8 3\nBecause", "logprobs": {
        "tokens": ["8", " 3", "\n", "Because"], "top_logprobs": [{"8": -0.1, "7": -2.3}, {" 3": -0.2}, {"\n": 0.0},
                                                               {"Because": -0.5}]}}]}
    tokens = read_answer(completion, "completions", ()).logprobs
    assert [t.token for t in tokens] == ["8", " 3", "\n"]  # the score line only
    assert tokens[0] == TokenLogprobs(token="8", top={"8": -0.1, "7": -2.3})
    message = {"choices": [{"message": {"content": "8 3"}, "logprobs": {"content": [
        {"token": "8", "logprob": -0.1, "top_logprobs": [{"token": "8", "logprob": -0.1}, {"token": "9", "logprob": -3.0}]},
    ]}}]}
    assert read_answer(message, "chat", ()).logprobs == [TokenLogprobs(token="8", top={"8": -0.1, "9": -3.0})]
    # A server that sends none: the row's confidence is then null, its judgment stands.
    assert read_answer({"choices": [{"text": "8 3"}]}, "completions", ()).logprobs is None
