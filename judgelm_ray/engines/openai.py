"""OpenAI-compatible API backend: a judge model behind /v1/completions or /v1/chat/completions (a hosted
teacher such as GPT-4, or a `vllm serve` endpoint), over HTTP instead of on a local GPU.

An actor's `generate` is synchronous, but an API answers one request at a time with seconds of latency: the
engine keeps one asyncio loop in a daemon thread, with one pooled httpx client, and sends a batch's prompts
concurrently (at most `concurrency` in flight, spaced by the run's rate limits). A request that fails
(429, 5xx, 408, a lost connection, a timeout) is retried with exponential backoff and full jitter, waiting at
least what the server's Retry-After asks; one that still fails becomes that prompt's `Generation.error`,
and the run goes on. What no retry fixes stops the run with an `EndpointError`: a refused key, a wrong URL
or model, or `fail_after` requests in a row failing (the endpoint is down, not one prompt bad).

The API key is sent as a Bearer token and redacted ("***") from every message the engine builds.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import json
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from judgelm_ray.engines.base import (
    ChatPrompt,
    Generation,
    GenerationParams,
    ImagePrompt,
    Prompt,
    TokenLogprobs,
    cut_at_stop,
)

# Worth another try (with every 5xx, the server's own trouble): a request timeout it reported, rate limited.
RETRIED_STATUSES = frozenset({408, 429})
# Longest server message an error keeps: enough for "maximum context length is ..." in one line.
MESSAGE_CHARS = 300
# Rate-limit buckets hold one second of the rate: a pool's actors each burst at most that much at once.
BURST_S = 1.0


class EndpointError(ConnectionError):
    """The endpoint cannot judge this run at all (a refused key, a wrong URL or model, an outage): the
    run stops instead of quarantining every row. A ConnectionError, so the terminal shows its one line."""


def retry_delay(retry: int, backoff_s: float, max_backoff_s: float, rng: random.Random,
                retry_after: float | None = None) -> float:
    """Seconds to wait before retry number `retry` (0 for the first): full jitter ("Exponential Backoff
    and Jitter", AWS) over a window that doubles from `backoff_s` up to `max_backoff_s`, so actors that
    failed together do not retry together; never less than the server's Retry-After."""
    delay = rng.uniform(0, min(max_backoff_s, backoff_s * 2**retry))
    return max(delay, retry_after) if retry_after is not None else delay


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """The wait a response asks for, in seconds, or None: vLLM's and OpenAI's `retry-after-ms`, else
    `Retry-After` as seconds or an HTTP date (`now`: the current Unix time, for the date form)."""
    lower = {key.lower(): value for key, value in headers.items()}
    if (ms := _seconds(lower.get("retry-after-ms"))) is not None:
        return ms / 1000
    value = lower.get("retry-after")
    if value is None:
        return None
    if (seconds := _seconds(value)) is not None:
        return seconds
    try:
        date = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if date.tzinfo is None:  # HTTP dates are GMT
        date = date.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, date.timestamp() - now)


def _seconds(value: str | None) -> float | None:
    """A header's number (>= 0), or None where it is missing or no finite number."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return max(0.0, number) if math.isfinite(number) else None


class TokenBucket:
    """`rate` units a second, at most `capacity` saved up. A reservation may overdraw it: the caller waits
    until the debt is paid, so a request bigger than the bucket still goes, and later ones queue behind it."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate, self.capacity, self.level, self.at = rate, capacity, capacity, now

    def reserve(self, cost: float, now: float) -> float:
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate) - cost
        self.at = now
        return max(0.0, -self.level / self.rate)


class RateLimiter:
    """Requests per second and tokens per minute (either None: no limit) as token buckets. `reserve`
    books one request and says how long to wait before sending it; the clock is injectable for tests."""

    def __init__(self, requests_per_second: float | None, tokens_per_minute: float | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        now = clock()
        self.requests = self.tokens = None
        if requests_per_second:
            self.requests = TokenBucket(requests_per_second, max(1.0, requests_per_second * BURST_S), now)
        if tokens_per_minute:
            self.tokens = TokenBucket(tokens_per_minute / 60, tokens_per_minute / 60 * BURST_S, now)

    def reserve(self, tokens: int) -> float:
        now = self.clock()
        waits = [0.0]
        if self.requests is not None:
            waits.append(self.requests.reserve(1, now))
        if self.tokens is not None:
            waits.append(self.tokens.reserve(tokens, now))
        return max(waits)


def request_tokens(prompt: Prompt, max_tokens: int) -> int:
    """What a request counts against tokens/minute before the server says: its prompt (exactly for ids,
    ~4 characters a token for text) and all the tokens it may generate, as OpenAI's limiter counts."""
    if isinstance(prompt, list):
        return len(prompt) + max_tokens
    text = prompt if isinstance(prompt, str) else "".join(str(m.get("content") or "") for m in prompt.messages)
    return len(text) // 4 + 1 + max_tokens


def request_body(prompt: Prompt, params: GenerationParams, model: str, api: str) -> dict:
    """The JSON of one request (ValueError for a prompt this API cannot take)."""
    body: dict = {"model": model, "max_tokens": params.max_tokens, "temperature": params.temperature,
                  "top_p": params.top_p, "n": 1}
    if params.seed is not None:
        body["seed"] = params.seed
    if params.stop:
        body["stop"] = list(params.stop)
    if params.logprobs:  # the two APIs ask for top-k logprobs differently
        body.update({"logprobs": params.logprobs} if api == "completions" else
                    {"logprobs": True, "top_logprobs": params.logprobs})
    if isinstance(prompt, ImagePrompt):
        raise ValueError("engine openai does not send images")
    if api == "completions":
        if isinstance(prompt, ChatPrompt):
            raise ValueError("endpoint api 'completions' takes a prompt, not chat messages; use api 'chat'")
        body["prompt"] = prompt  # text, or token ids (vLLM and OpenAI's legacy endpoint take both)
    else:
        if isinstance(prompt, list):
            raise ValueError("endpoint api 'chat' takes messages, not token ids; use api 'completions'")
        body["messages"] = prompt.messages if isinstance(prompt, ChatPrompt) else [{"role": "user", "content": prompt}]
    return body


def read_answer(payload, api: str, stop: tuple[str, ...]) -> Generation:
    """A Generation from a response's JSON (ValueError: not an answer of this API)."""
    try:
        choice = payload["choices"][0]
        text = choice["text"] if api == "completions" else choice["message"]["content"]
    except (KeyError, IndexError, TypeError) as error:
        field = "choices[0].text" if api == "completions" else "choices[0].message.content"
        raise ValueError(f"the answer has no {field} ({type(error).__name__}: {error})") from None
    if text is not None and not isinstance(text, str):
        raise ValueError(f"the answer's text is a {type(text).__name__}, not a string")
    usage = payload.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    # Servers stop at the stop strings already; cutting again costs nothing and makes sure.
    return Generation(cut_at_stop(text or "", stop), int(usage.get("prompt_tokens") or 0),
                      int(usage.get("completion_tokens") or 0), logprobs=read_logprobs(choice.get("logprobs"), api))


def read_logprobs(logprobs, api: str) -> list[TokenLogprobs] | None:
    """The score line's tokens and their top candidates from a choice's `logprobs` (None where the server
    sent none: `confidence` is then null). Completions: parallel lists `tokens` / `top_logprobs`; chat: a
    `content` list of {token, logprob, top_logprobs: [{token, logprob}]}."""
    try:
        if api == "completions":
            pairs = [(token, dict(top or {})) for token, top in zip(logprobs["tokens"], logprobs["top_logprobs"])]
        else:
            pairs = [(item["token"], {c["token"]: c["logprob"] for c in item.get("top_logprobs") or []})
                     for item in logprobs["content"]]
    except (KeyError, TypeError):
        return None
    out = []
    for token, top in pairs:
        out.append(TokenLogprobs(token=token, top=top))
        if "\n" in token:  # the score line is all the judgment's signal needs
            break
    return out


def server_message(body: str) -> str:
    """What a server says went wrong: the JSON's error.message (OpenAI, vLLM) or message (vLLM), else the
    body, as one line."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            body = error["message"]
        elif isinstance(error, str):
            body = error
        elif isinstance(payload.get("message"), str):
            body = payload["message"]
    return " ".join(body.split())


def _clip(text: str, api_key: str | None) -> str:
    # Redact before clipping: a clip through the key would leave its first characters.
    if api_key:
        text = text.replace(api_key, "***")
    return text[:MESSAGE_CHARS]


def _tries(n: int) -> str:
    return f"{n} try" if n == 1 else f"{n} tries"


def _fatal(status: int, message: str, endpoint: dict, api_key: str | None) -> EndpointError | None:
    """The EndpointError for a status no retry fixes (401, 403, 404), else None."""
    base_url = endpoint["base_url"].rstrip("/")
    if status in (401, 403):
        if api_key:
            env = f"${endpoint['api_key_env']}" if endpoint.get("api_key_env") else "the key given"
            return EndpointError(f"judge.endpoint.api_key_env: the server refused the key in {env} (HTTP {status} "
                                 f"from {base_url}: {message}); put a valid key for this endpoint in {env}")
        return EndpointError(f"judge.endpoint.api_key_env: {base_url} asks for a key (HTTP {status}: {message}); "
                             "no key given: set judge.endpoint.api_key_env to the environment variable that holds it")
    if status == 404:
        return EndpointError(f"judge.endpoint: HTTP 404 from {base_url} ({message}); check base_url (OpenAI-"
                             f"compatible servers usually end in /v1) and that model {endpoint['model']!r} is served")
    return None


class OpenAIEngine:
    def __init__(
        self,
        model: str | None,
        *,
        endpoint: dict,
        api_key: str | None = None,
        share: int = 1,
        dtype: str = "auto",
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        seed: int = 0,
    ) -> None:
        # The model runs behind the API: `model` (a local tokenizer the CPU stage already used), dtype,
        # max_model_len and tensor_parallel_size are the other engines' settings, accepted so all are built alike.
        self.endpoint = endpoint
        self.base_url = endpoint["base_url"].rstrip("/")
        self.url = f"{self.base_url}/{'completions' if endpoint['api'] == 'completions' else 'chat/completions'}"
        self._api_key = api_key
        self.retries = 0  # total retries so far: the actor reports its growth to the progress display
        self._failed_in_row = 0
        self._rng = random.Random(seed)  # backoff jitter, reproducible from the run's seed
        # The limits are the whole run's; `share` actors split them evenly.
        rps, tpm = endpoint["requests_per_second"], endpoint["tokens_per_minute"]
        self._limiter = RateLimiter(rps / share if rps else None, tpm / share if tpm else None)
        concurrency = endpoint["concurrency"]
        self._slots = asyncio.Semaphore(concurrency)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            headers=headers, timeout=endpoint["timeout_s"],
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="openai-engine", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:  # never the key
        return f"OpenAIEngine(base_url={self.base_url!r}, model={self.endpoint['model']!r})"

    def generate(self, prompts: list[Prompt], params: GenerationParams) -> list[Generation]:
        # Every body first: a prompt this API cannot take refuses the batch before anything is sent.
        # endpoint.extra_body: the server's own settings (vLLM's structured_outputs, ...); ours win a clash.
        extra = self.endpoint.get("extra_body") or {}
        bodies = [{**extra, **request_body(p, params, self.endpoint["model"], self.endpoint["api"])} for p in prompts]
        if not bodies:
            return []
        costs = [request_tokens(p, params.max_tokens) for p in prompts]
        future = asyncio.run_coroutine_threadsafe(self._generate(bodies, costs, params.stop), self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # an interrupted caller: stop the requests in flight too
            raise

    def close(self) -> None:
        """Close the connections and stop the loop thread (idempotent)."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(timeout=5)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # best effort at interpreter exit
            pass

    async def _generate(self, bodies: list[dict], costs: list[int], stop: tuple[str, ...]) -> list[Generation]:
        tasks = [asyncio.create_task(self._request(b, c, stop)) for b, c in zip(bodies, costs)]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            # A fatal error (or a cancelled caller) stops the run: the batch's other requests are not needed.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        failed = next((t for t in tasks if not t.cancelled() and t.exception() is not None), None)
        if failed is not None:
            raise failed.exception()
        return [task.result() for task in tasks]

    async def _request(self, body: dict, cost: int, stop: tuple[str, ...]) -> Generation:
        tries = self.endpoint["max_retries"] + 1
        for attempt in range(tries):
            outcome = await self._try(body, cost, stop)
            if isinstance(outcome, Generation):
                self._failed_in_row = 0
                return outcome
            if not outcome.retry or attempt == tries - 1:
                break
            self.retries += 1
            await asyncio.sleep(retry_delay(attempt, self.endpoint["backoff_s"], self.endpoint["max_backoff_s"],
                                            self._rng, outcome.retry_after))
        error = outcome.message(attempt + 1)
        # Counted over every request, whatever failed it: many in a row is the endpoint, not the prompts.
        self._failed_in_row += 1
        if self._failed_in_row >= self.endpoint["fail_after"]:
            raise EndpointError(
                f"judge.endpoint: {self._failed_in_row} requests in a row failed after their retries at "
                f"{self.base_url}; last: {error}. Check that the server is up and serves "
                f"{self.endpoint['model']!r}, or raise judge.endpoint.max_retries and backoff_s to wait out an outage"
            )
        return Generation(text="", prompt_tokens=0, completion_tokens=0, error=error)

    async def _try(self, body: dict, cost: int, stop: tuple[str, ...]) -> Generation | _Failure:
        """One try of a request. Raises EndpointError for what no retry fixes."""
        timeout_s = self.endpoint["timeout_s"]
        async with self._slots:
            await asyncio.sleep(self._limiter.reserve(cost))
            try:
                # httpx's timeout bounds each phase (connect, each read); this bounds the whole request.
                async with asyncio.timeout(timeout_s):
                    response = await self._client.post(self.url, json=body)
            except (TimeoutError, httpx.TimeoutException):
                return _Failure(f"no answer within {timeout_s:g} s", None, retry=True)
            except httpx.TransportError as error:  # refused, reset or dropped connections
                return _Failure(f"cannot connect to {self.base_url}", _why(error, self._api_key), retry=True)
            except httpx.RequestError as error:  # an answer httpx cannot decode: this request's, not the endpoint's
                return _Failure("the answer could not be read", _why(error, self._api_key), retry=False)
        status = response.status_code
        if status != 200:
            message = _clip(server_message(response.text) or response.reason_phrase, self._api_key)
            fatal = _fatal(status, message, self.endpoint, self._api_key)
            if fatal is not None:
                raise fatal
            return _Failure(f"HTTP {status}", message, retry=status in RETRIED_STATUSES or status >= 500,
                            retry_after=parse_retry_after(response.headers, time.time()))
        try:
            return read_answer(response.json(), self.endpoint["api"], stop)
        except (ValueError, TypeError) as error:  # also the JSON decoder's; TypeError: odd usage counts
            return _Failure("HTTP 200 with an answer that is not the API's JSON", _why(error, self._api_key),
                            retry=False)


@dataclass(frozen=True)
class _Failure:
    """A try that failed: what went wrong, in the words of the error message it becomes."""

    what: str
    detail: str | None
    retry: bool
    retry_after: float | None = None

    def message(self, tries: int) -> str:
        return f"{self.what} after {_tries(tries)}" + (f": {self.detail}" if self.detail else "")


def _why(error: Exception, api_key: str | None) -> str:
    return _clip(" ".join(str(error).split()) or type(error).__name__, api_key)


def check_endpoint(endpoint: dict, api_key: str | None) -> None:
    """Ask the endpoint for its models before the run starts (on the driver, before Ray), so a wrong URL,
    key or model fails in a second with what to change. Servers that list no models pass."""
    base_url = endpoint["base_url"].rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(f"{base_url}/models", headers=headers, timeout=endpoint["timeout_s"])
    except httpx.TimeoutException:
        raise EndpointError(f"judge.endpoint.base_url: cannot connect to {base_url} (no answer within "
                            f"{endpoint['timeout_s']:g} s); is the server running?") from None
    except httpx.TransportError as error:
        raise EndpointError(f"judge.endpoint.base_url: cannot connect to {base_url} ({_why(error, api_key)}); "
                            "is the server running?") from None
    if response.status_code in (401, 403):
        message = _clip(server_message(response.text) or response.reason_phrase, api_key)
        raise _fatal(response.status_code, message, endpoint, api_key)
    try:
        served = [m["id"] for m in response.json()["data"]] if response.status_code == 200 else None
    except (ValueError, KeyError, TypeError):
        served = None  # not every server lists its models: the first request will tell
    if served is not None and endpoint["model"] not in served:
        more = f" (and {len(served) - 10} more)" if len(served) > 10 else ""
        raise EndpointError(f"judge.endpoint.model: {endpoint['model']!r} is not served at {base_url}; "
                            f"it serves: {', '.join(map(str, served[:10]))}{more}")
