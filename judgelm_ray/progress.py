"""Counting a run's progress where the work happens, for the driver to show.

Ray Data and Ray Train run the work in other processes (on other nodes); each stage adds what it
finished to one `Tally` actor, and the driver reads the sums a few times a second
(`console.ProgressDisplay`). Adding is fire-and-forget: a lost tally never slows or fails a run,
it only stops the display from moving. Events a person should see (an actor restarted, a write
being retried) travel the same way, and `ClusterWatch` reports nodes that were lost.
"""

from __future__ import annotations

import time
from collections import Counter

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


@ray.remote(num_cpus=0, max_restarts=0)
class Tally:
    """Sums of what the stages report, and the events they raised since the last read."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.events: list[str] = []
        self.notes: dict[str, object] = {}

    def add(self, counts: dict[str, int]) -> None:
        self.counts.update(counts)

    def set(self, values: dict[str, float]) -> None:
        """Gauges rather than sums (a training step, its loss): a restarted worker sets them again."""
        for key, value in values.items():
            self.counts[key] = value

    def event(self, text: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {text}")

    def read(self) -> tuple[dict[str, int], list[str]]:
        events, self.events = self.events, []
        return dict(self.counts), events

    def note(self, item: tuple[str, object]) -> None:
        key, value = item
        self.notes[key] = value

    def read_notes(self) -> dict[str, object]:
        return dict(self.notes)


def start_tally():
    """A new tally on this node (the driver's), so its reads stay local."""
    node = ray.get_runtime_context().get_node_id()
    return Tally.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True)).remote()


def stop_tally(tally) -> None:
    """End the tally when its section is done (each is a worker process while it lives)."""
    ray.kill(tally)


def _send(tally, method: str, argument) -> None:
    """Call the tally, fire-and-forget (None: nothing is counted, as in unit tests)."""
    if tally is not None:
        try:
            getattr(tally, method).remote(argument)
        except Exception:  # progress is best effort; the work itself must go on
            pass


def add(tally, **counts: int) -> None:
    """Add to the tally's sums."""
    _send(tally, "add", counts)


def set(tally, **values: float) -> None:
    """Set gauges on the tally."""
    _send(tally, "set", values)


def event(tally, text: str) -> None:
    """Report something a person should see at once, as one line with the time."""
    _send(tally, "event", text)


def note(tally, key: str, value: object) -> None:
    """Record a fact for the run's manifest (what the engine resolved); the last one for a key wins."""
    _send(tally, "note", (key, value))


def notes(tally, timeout: float = 10.0) -> dict[str, object]:
    """The facts the stages noted; {} when the tally does not answer."""
    try:
        return ray.get(tally.read_notes.remote(), timeout=timeout)
    except Exception:  # a lost tally loses only what it noted
        return {}


def read(tally, timeout: float = 2.0) -> tuple[dict[str, int], list[str]]:
    """The sums so far and the new events; nothing when the tally does not answer in time."""
    try:
        return ray.get(tally.read.remote(), timeout=timeout)
    except Exception:  # a lost tally (or a slow one) only stalls the display
        return {}, []


class ClusterWatch:
    """Notices Ray nodes that were alive and are not any more (a preempted spot node, say)."""

    def __init__(self):
        self.alive = self._alive_nodes()

    @staticmethod
    def _alive_nodes() -> dict[str, str]:
        try:
            return {n["NodeID"]: n.get("NodeManagerAddress", "?") for n in ray.nodes() if n.get("Alive")}
        except Exception:  # the GCS not answering shows as a stalled display
            return {}

    def events(self) -> list[str]:
        now = self._alive_nodes()
        if not now:
            return []
        lost = [f"{time.strftime('%H:%M:%S')} Ray node {address} ({node[:8]}) lost; its work is being retried"
                for node, address in self.alive.items() if node not in now]
        self.alive = now
        return lost


def reader(tally):
    """What a progress display reads: the tally's sums and events, and the nodes lost since."""
    watch = ClusterWatch()

    def read_all() -> tuple[dict[str, int], list[str]]:
        counts, events = read(tally)
        return counts, events + watch.events()

    return read_all
