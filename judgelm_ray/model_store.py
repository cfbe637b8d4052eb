"""Model checkpoints named by s3:// are copied to each node's local disk before an engine loads them.

vLLM and transformers load from a local folder, so every judge actor (and the tokenizer stage)
resolves an s3:// model to a local copy first. The copy is parallel (one thread per file),
resumable (a file is downloaded to `<name>.part` and renamed when complete, so an interrupted copy
only fetches what is missing) and skipped when an earlier copy is complete (a marker records the
size and ETag of every object). A file lock keeps two actors on one node from copying at once.
Every object's target is checked before anything is written: a key that would land outside the
model's folder ("../" in it, which AWS accepts) fails the whole copy. `require_model` checks that a
model named in a spec is there at all, before a job spends time starting engines.

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
MODEL_CONFIG = "config.json"  # transformers' CONFIG_NAME: every HF model folder has one


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


def local_targets(local: Path, objects: dict[str, dict]) -> dict[str, Path]:
    """Where each object goes under `local`; refuses every key that would land outside it.

    S3 keys are free text: AWS accepts "models/m1/../../../x" and a plain join would write outside
    the cache. Paths are normalised lexically, not resolved: the cache folder may be a symlink.
    """
    targets = {}
    for relative, item in objects.items():
        target = Path(os.path.normpath(local / relative))
        if target == local or not target.is_relative_to(local):
            raise ValueError(f"refusing to copy s3 object {item['key']!r}: it would be written outside {local}; "
                             "rename the object or point the model at a prefix without it")
        targets[relative] = target
    return targets


def _local_folder(bucket: str, prefix: str) -> Path:
    """The model's folder in the cache; a URI whose bucket or prefix climbs out of the cache is refused."""
    root = Path(os.path.normpath(cache_root()))
    local = Path(os.path.normpath(root / bucket / prefix))
    if bucket in (".", "..") or not local.is_relative_to(root / bucket):
        raise ValueError(f"refusing s3://{bucket}/{prefix}: its copy would land outside the model cache {root}")
    return local


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
    local = _local_folder(bucket, prefix)
    client = boto3.client("s3")
    # Listed and checked before anything is written: a bad key fails the whole copy up front.
    objects = _list_objects(client, bucket, prefix)
    if not objects:
        raise FileNotFoundError(f"judge.model: no objects under {model}")
    targets = local_targets(local, objects)
    local.mkdir(parents=True, exist_ok=True)
    with open(local.parent / f".{local.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = local / COMPLETE_MARKER
        if marker.is_file() and json.loads(marker.read_text()) == objects:
            return str(local)
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            futures = [pool.submit(_download, client, bucket, item, targets[rel]) for rel, item in objects.items()]
            for future in futures:
                future.result()
        marker.write_text(json.dumps(objects, sort_keys=True))
    return str(local)


def require_model(path: str, field: str = "judge.model") -> None:
    """Fail in a second, with the field named, when a model folder or s3:// prefix is not there.

    Without it a missing folder surfaces much later, inside huggingface_hub, as "Repo id must be
    in the form ...": transformers takes any path that is not a folder for a hub id.
    """
    fix = "give a local model folder or an s3:// URI"
    if _names_hub_model(path):
        return  # transformers and vLLM fetch it where a hub is reachable
    if path.startswith("s3://"):
        if not _s3_prefix_has_objects(path):
            raise FileNotFoundError(f"{field}: {path} does not exist (no objects under it; {fix})")
    elif not Path(path).exists():
        raise FileNotFoundError(f"{field}: {path} does not exist ({fix})")
    elif not (Path(path) / MODEL_CONFIG).is_file():  # what transformers and vLLM read first
        raise FileNotFoundError(f"{field}: {path} is not a model folder (no {MODEL_CONFIG} in it; {fix})")


def _names_hub_model(path: str) -> bool:
    """`lmsys/vicuna-7b-v1.3` or `gpt2`: a hub id rather than a local path, when nothing says it is a path
    (a leading `/`, `.` or `~`, more than one `/`, or a first part that is a local folder, as `runs/`)."""
    if path.startswith(("s3://", "/", ".", "~")) or path.count("/") > 1:
        return False
    return not Path(path.split("/", 1)[0]).is_dir() if "/" in path else not Path(path).exists()


def _s3_prefix_has_objects(uri: str) -> bool:
    import boto3
    from botocore.exceptions import ClientError

    bucket, prefix = split_s3_uri(uri)
    try:
        listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "", MaxKeys=1)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return False
        raise
    return listing.get("KeyCount", len(listing.get("Contents", []))) > 0
