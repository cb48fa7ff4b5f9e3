"""Every path of the flow, executed by moto's ASL interpreter on the real pipeline.asl.json.

The cases live in mock_config.json, in Step Functions Local's MockConfigFile format; the
harness drives moto with them through the Lambda seam. With SFN_LOCAL_ENDPOINT set, the
same cases also run on Step Functions Local (see test_cases_on_step_functions_local).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from manga2video.local import asl
from manga2video.local.emulator import LocalAws, entered_states
from manga2video.local.mock_config import load_cases

MOCK_CONFIG = Path(__file__).with_name("mock_config.json")


def run_case(
    aws: LocalAws, case: str, payload: dict[str, Any] | None = None, **placeholders: int
) -> tuple[dict, list[str]]:
    """Run one mock case; placeholders override the ASL's numbers (e.g. a 1 s heartbeat)."""
    if placeholders:
        aws.create_state_machine(aws.render_definition(placeholders), name=f"pipeline-{uuid.uuid4().hex[:6]}")
    aws.dispatcher.mock_case = load_cases(MOCK_CONFIG, "pipeline")[case]
    arn = aws.start_execution(payload, name=f"{case}-{uuid.uuid4().hex[:8]}")
    described = aws.wait(arn, timeout=180)
    return described, entered_states(aws.history(arn))


def output(described: dict) -> dict[str, Any]:
    return json.loads(described["output"])


def test_quota_already_reached_goes_to_quota_reached(aws: LocalAws) -> None:
    described, states = run_case(aws, "QuotaAlreadyReached")
    assert described["status"] == "SUCCEEDED"
    assert states[-1] == "QuotaReached"
    assert "FetchManga" not in states


def test_no_manga_available_ends_quietly(aws: LocalAws) -> None:
    described, states = run_case(aws, "NoMangaAvailable")
    assert described["status"] == "SUCCEEDED"
    assert states[-2:] == ["FetchChoice", "NoMangaAvailable"]


def test_full_loop_makes_three_videos_with_quota_three_and_ends_in_done(aws: LocalAws) -> None:
    described, states = run_case(aws, "FullLoopThreeVideos", {"daily_quota": 3})
    assert states[-1] == "Done"
    assert states.count("FetchManga") == 3
    assert states.count("WaitForRender") == 3
    assert states.count("IncrementCounter") == 3
    assert "HandleError" not in states
    result = output(described)
    assert result["quota"]["count"] == 3
    assert result["loop"]["attempts"] == 3
    # each turn starts from a clean slate: the last turn's input holds only its own results
    assert result["job"]["job_id"] == "chapter-3"


FAILING_STATES = [
    ("FetchManga", "CloudflareChallengeError"),
    ("PrepareScriptInput", "InvalidImageError"),
    ("GenerateScript", "ScriptGenerationError"),
    ("GenerateTTS", "VoiceUnavailableError"),
    ("StartRenderer", "JobStateError"),
    ("WaitForRender", "RenderError"),
    ("StartUploader", "JobStateError"),
    ("WaitForUpload", "YouTubeAuthError"),
    ("Cleanup", "JobStateError"),
    ("IncrementCounter", "JobStateError"),
]


@pytest.mark.parametrize(("state", "error"), FAILING_STATES, ids=[state for state, _ in FAILING_STATES])
def test_failure_in_each_task_state_goes_to_handle_error_and_the_loop_continues(
    aws: LocalAws, state: str, error: str
) -> None:
    described, states = run_case(aws, f"FailureIn{state}", {"daily_quota": 1})
    assert described["status"] == "SUCCEEDED"
    assert states[-1] == "Done"
    assert states.count("HandleError") == 1
    assert states[states.index(state) + 1] == "HandleError"
    assert states.count("FetchManga") == 2, "the loop went on with the next chapter"
    assert states.count(state) == 2 or state == "FetchManga"
    handled = aws.dispatcher.calls("HandleError")[0].event
    assert handled["error"]["Error"] == error
    assert output(described)["quota"]["count"] == 1


def test_check_quota_failure_is_handled_and_ends_the_run(aws: LocalAws) -> None:
    described, states = run_case(aws, "CheckQuotaFails")
    assert described["status"] == "SUCCEEDED"
    assert states == ["Initialize", "CheckQuota", "HandleError", "CheckMoreVideos", "Done"]


def test_transient_lambda_error_is_retried_at_60_then_120_seconds_then_succeeds(aws: LocalAws) -> None:
    _described, states = run_case(aws, "TransientErrorRetried")
    assert states[-1] == "Done"
    assert "HandleError" not in states
    assert len(aws.dispatcher.calls("GenerateScript")) == 3
    assert aws.retry_sleeps.intervals == [60, 120]


def test_render_heartbeat_timeout_is_retried_twice_then_handled(aws: LocalAws) -> None:
    _described, states = run_case(aws, "RenderHeartbeatTimeoutRetried", renderer_heartbeat_seconds=1)
    assert len(aws.dispatcher.calls("WaitForRender")) == 3, "each retry launches a new worker"
    assert aws.retry_sleeps.intervals == [60, 90]
    assert states[states.index("WaitForRender") + 1] == "HandleError"
    assert states[-1] == "NoMangaAvailable"


def test_spot_interruption_is_retried_within_seconds_on_a_new_worker(aws: LocalAws) -> None:
    _described, states = run_case(aws, "SpotInterruptedRetried")
    assert states[-1] == "Done"
    assert len(aws.dispatcher.calls("WaitForRender")) == 2
    assert aws.retry_sleeps.intervals == [5]


def test_youtube_quota_error_ends_the_day_in_quota_reached(aws: LocalAws) -> None:
    described, states = run_case(aws, "YouTubeQuotaEndsDay")
    assert described["status"] == "SUCCEEDED"
    assert states[-2:] == ["WaitForUpload", "QuotaReached"]
    assert "HandleError" not in states
    assert output(described)["error"]["Error"] == "YouTubeQuotaError"


def test_resume_upload_goes_straight_to_the_uploader(aws: LocalAws) -> None:
    _described, states = run_case(aws, "ResumeUploadSkipsRender")
    assert states[-1] == "Done"
    assert "WaitForRender" not in states and "PrepareScriptInput" not in states
    assert states[states.index("FetchChoice") + 1] == "StartUploader"


def test_a_source_that_fails_every_time_stops_at_the_attempts_cap(aws: LocalAws) -> None:
    described, states = run_case(aws, "SourceFailsEveryTime")
    assert described["status"] == "SUCCEEDED"
    assert states[-1] == "Done"
    assert states.count("FetchManga") == 4 == states.count("HandleError")
    assert output(described)["loop"]["attempts"] == 4
    assert aws.retry_sleeps.intervals == [], "a Cloudflare challenge is not retried"


# --- the same cases on Step Functions Local, when one is running -------------------------------
EXPECTED_FINAL_STATE = {
    "QuotaAlreadyReached": "QuotaReached",
    "NoMangaAvailable": "NoMangaAvailable",
    "FullLoopThreeVideos": "Done",
    "YouTubeQuotaEndsDay": "QuotaReached",
    "ResumeUploadSkipsRender": "Done",
    "SourceFailsEveryTime": "Done",
    **{f"FailureIn{state}": "Done" for state, _ in FAILING_STATES},
}


@pytest.mark.skipif(not os.environ.get("SFN_LOCAL_ENDPOINT"), reason="SFN_LOCAL_ENDPOINT names no Step Functions Local")
@pytest.mark.parametrize("case", sorted(EXPECTED_FINAL_STATE))
def test_cases_on_step_functions_local(case: str) -> None:
    """Step Functions Local must be started with SFN_MOCK_CONFIG pointing at mock_config.json."""
    sfn = boto3.client("stepfunctions", endpoint_url=os.environ["SFN_LOCAL_ENDPOINT"])
    region = sfn.meta.region_name
    definition = asl.render(
        asl.read_raw(),
        asl.local_values(
            lambda folder: f"arn:aws:lambda:{region}:123456789012:function:{folder}",
            {"lambda_retry_interval_seconds": 1, "worker_retry_interval_seconds": 1},
        ),
    )
    machines = {machine["name"]: machine["stateMachineArn"] for machine in sfn.list_state_machines()["stateMachines"]}
    arn = (
        machines.get("pipeline")
        or sfn.create_state_machine(
            name="pipeline", definition=definition, roleArn="arn:aws:iam::123456789012:role/pipeline"
        )["stateMachineArn"]
    )
    execution = sfn.start_execution(stateMachineArn=f"{arn}#{case}", name=f"{case}-{uuid.uuid4().hex[:8]}")
    while (described := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] == "RUNNING":
        time.sleep(0.5)
    events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    assert entered_states(events)[-1] == EXPECTED_FINAL_STATE[case], described
