"""What a run tells the person watching about the cluster: a node that is lost, shown as it goes.

The node is lost for real: a second Ray node joins a head, and its whole process group is killed,
as a preempted spot node goes.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from support.ray_head import start_ray_head, start_worker_node

pytestmark = pytest.mark.integration

# The driver side, in its own process (this one may hold the tests' local Ray): join the cluster,
# wait for both nodes, then report what ClusterWatch says after the test kills the worker node.
DRIVER = """
import sys, time
import ray
from judgelm_ray import progress
ray.init(address=sys.argv[1])
deadline = time.monotonic() + 120
while len([n for n in ray.nodes() if n["Alive"]]) < 2:
    assert time.monotonic() < deadline, "the worker node never joined"
    time.sleep(0.5)
watch = progress.ClusterWatch()
print("watching", flush=True)
sys.stdin.readline()  # the test kills the node now
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    for line in watch.events():
        print(line, flush=True)
        sys.exit(0)
    time.sleep(1)
sys.exit("no node reported lost")
"""


def test_a_lost_node_is_reported_as_it_goes():
    head = start_ray_head()
    node = start_worker_node(head)
    try:
        env = {**os.environ, **head.env}
        env.pop("RAY_ADDRESS", None)
        driver = subprocess.Popen([sys.executable, "-c", DRIVER, head.gcs_address], env=env, text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert driver.stdout.readline() == "watching\n", driver.stderr.read()[-3000:]
        os.killpg(node.pid, signal.SIGKILL)  # the node's raylet and everything it started
        driver.stdin.write("go\n")
        driver.stdin.flush()
        out, err = driver.communicate(timeout=180)
        assert driver.returncode == 0, err[-3000:]
        assert re.search(r"^\d\d:\d\d:\d\d Ray node \S+ \([0-9a-f]{8}\) lost; its work is being retried$", out, re.M), out
    finally:
        try:
            os.killpg(node.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        node.wait(timeout=30)
        head.stop()
