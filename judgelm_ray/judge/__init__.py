"""The judge job: canonical rows -> requests -> a pool of engine actors -> judgments (see `run`)."""

from judgelm_ray.judge.run import run_judge

__all__ = ["run_judge"]
