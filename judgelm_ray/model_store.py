"""Model checkpoints named by s3:// are copied to each node's local disk before an engine loads them.

vLLM and transformers load from a local folder, so every judge actor (and the tokenizer stage)
resolves an s3:// model to a local copy first. The copy is parallel (one thread per file),
resumable (a file is downloaded to `<name>.part` and renamed when complete, so an interrupted copy
only fetches what is missing) and skipped when an earlier copy is complete (a marker records the
size and ETag of every object). A file lock keeps two actors on one node from copying at once.

boto3 takes credentials from the standard AWS chain and the endpoint from AWS_ENDPOINT_URL_S3 /
AWS_ENDPOINT_URL, so S3-compatible stores work too. Nothing here logs or returns credentials.
"""

from __future__ import annotations

import fcntl
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

COMPLETE_MARKER = ".judgelm-ray-complete.json"


def cache_root() -> Path:
    return Path(os.environ.get("JUDGELM_RAY_MODEL_CACHE", Path.home() / ".cache" / "judgelm-ray" / "models"))


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"not an s3:// model path: {uri!r} (expected s3://bucket/prefix)")
    return bucket, prefix.strip("/")


def _list_objects(client, bucket: str, prefix: str) -> dict[str, dict]:
    """Every object under the prefix, keyed by its path relative to the prefix."""
    objects = {}
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :].lstrip("/")
            if relative and not relative.endswith("/"):
                objects[relative] = {"key": item["Key"], "size": item["Size"], "etag": item["ETag"].strip('"')}
    return objects


def _download(client, bucket: str, item: dict, target: Path) -> None:
    if target.is_file() and target.stat().st_size == item["size"]:
        return  # left by an interrupted copy of the same object
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    client.download_file(bucket, item["key"], str(partial))
    partial.replace(target)


def ensure_local_model(model: str, max_workers: int = 8) -> str:
    """A local folder holding `model`: the path itself unless it is an s3:// URI."""
    if not model.startswith("s3://"):
        return model
    import boto3

    bucket, prefix = split_s3_uri(model)
    local = cache_root() / bucket / prefix
    local.mkdir(parents=True, exist_ok=True)
    client = boto3.client("s3")
    with open(local.parent / f".{local.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        objects = _list_objects(client, bucket, prefix)
        if not objects:
            raise FileNotFoundError(f"judge.model: no objects under {model}")
        marker = local / COMPLETE_MARKER
        if marker.is_file() and json.loads(marker.read_text()) == objects:
            return str(local)
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            futures = [pool.submit(_download, client, bucket, item, local / rel) for rel, item in objects.items()]
            for future in futures:
                future.result()
        marker.write_text(json.dumps(objects, sort_keys=True))
    return str(local)

