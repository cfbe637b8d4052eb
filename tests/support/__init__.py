"""Helpers shared by the tests (on sys.path through pytest's `pythonpath`)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
