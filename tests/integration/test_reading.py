"""Duplicated ids are found alike on the driver (small inputs) and through Ray Data's shuffle (large ones)."""

from __future__ import annotations

import pytest

from judgelm_ray.judge import reading

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("driver_rows", [reading.DRIVER_DUPLICATE_ROWS, 0])
def test_first_occurrence_of_each_duplicated_id(ray_local, monkeypatch, driver_rows):
    import ray

    monkeypatch.setattr(reading, "DRIVER_DUPLICATE_ROWS", driver_rows)
    items = [{"id": i, "source": src, "row": r} for i, src, r in [
        ("a", "b.jsonl", 0), ("x", "b.jsonl", 1), ("a", "a.jsonl", 5), ("y", "a.jsonl", 6), ("a", "a.jsonl", 2),
        ("x", "b.jsonl", 9),
    ]]
    ids = ray.data.from_items(items, override_num_blocks=3)
    assert reading.find_duplicates(ray.data.from_items(items[:0]), []) == {}
    assert reading.find_duplicates(ids, ["a.jsonl", "b.jsonl"]) == {"a": ("a.jsonl", 2), "x": ("b.jsonl", 1)}
