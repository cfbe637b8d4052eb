"""submit's retry while a just-started head has no job agent (the rest of submit runs against a real
head in tests/integration/test_submit.py; this race cannot be caused on purpose there)."""

from __future__ import annotations

import pytest

from judgelm_ray.submit import retry_until_agent_ready

# What Ray 2.60's JobSubmissionClient raises for the head's 500 answer.
REFUSED = RuntimeError("Request failed with status code 500: No available agent to submit job, please try again later..")


def submitter(refusals: int, error: Exception = REFUSED):
    calls = []

    def submit() -> str:
        calls.append(1)
        if len(calls) <= refusals:
            raise error
        return "raysubmit_1"
    return submit, calls


def test_a_submission_refused_for_want_of_an_agent_is_tried_again():
    submit, calls = submitter(refusals=2)
    assert retry_until_agent_ready(submit, sleep=lambda s: None) == "raysubmit_1"
    assert len(calls) == 3


def test_other_errors_and_a_lasting_refusal_are_raised():
    submit, calls = submitter(refusals=1, error=RuntimeError("Request failed with status code 400: bad runtime_env"))
    with pytest.raises(RuntimeError, match="bad runtime_env"):
        retry_until_agent_ready(submit, sleep=lambda s: None)
    assert len(calls) == 1
    submit, calls = submitter(refusals=10**6)
    with pytest.raises(RuntimeError, match="No available agent"):
        retry_until_agent_ready(submit, wait_s=0, sleep=lambda s: None)
    assert len(calls) == 1
