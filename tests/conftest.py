"""Shared fixtures: the tiny judge model, a real S3 server, one local Ray for the session, real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import REPO, SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    from judgelm_ray.demo.tiny_model import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0))


@pytest.fixture(scope="session")
def chat_model(tiny_model, tmp_path_factory) -> str:
    """The tiny judge with ChatML special tokens and a chat template (`support.models.with_chat_template`)."""
    from support.models import with_chat_template

    return with_chat_template(tiny_model, tmp_path_factory.mktemp("chat") / "model")


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory) -> str:
    """A tiny random vision-language judge (Idefics3: an image encoder before a tiny Llama)."""
    from judgelm_ray.demo.tiny_vlm import build_tiny_vlm

    return str(build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm") / "model", seed=0))


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """A real S3 server (SeaweedFS) on loopback, in the environment as a cluster node would have it.

    Started before Ray so that Ray's workers inherit the AWS variables, like nodes with an
    instance role or credentials in their environment.
    """
    from support.s3_server import start_s3_server

    server = start_s3_server(tmp_path_factory.mktemp("s3"), buckets=["judgelm"])
    os.environ.update(server.env)
    os.environ["JUDGELM_RAY_MODEL_CACHE"] = str(tmp_path_factory.mktemp("model-cache"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_model(s3, tiny_model) -> str:
    """The tiny model, uploaded once to the test S3 server."""
    from judgelm_ray import storage

    uri = "s3://judgelm/models/tiny"
    storage.upload_folder(str(tiny_model), uri)
    return uri


@pytest.fixture(scope="session")
def ray_local(s3):
    """One embedded local Ray for all integration tests (starting one costs seconds)."""
    import ray

    os.environ.pop("RAY_ADDRESS", None)
    # DeepSpeed JIT-builds its CPU ops (~90 s) on first use; Ray's workers inherit this cache
    # folder, git-ignored and rebuilt when missing, so the build happens once per checkout.
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(REPO / ".cache" / "torch_extensions"))
    ray.init(include_dashboard=False, num_cpus=2, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real judge data not found at {SHARED_DATA} (a user's clone has no shared/)")
    return SHARED_DATA
