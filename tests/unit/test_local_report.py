"""The local run's reading of an execution history, and its state snapshot, on the moto emulator."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from manga2video.local import persistence
from manga2video.local.emulator import LocalAws
from manga2video.local.mock_config import MockCase
from manga2video.local.report import CostModel, state_spans, timeline_svg, video_reports
from manga2video.local.runner import in_flight_job


def quota(count: int) -> dict:
    return {"Return": {"date": "d", "count": count, "daily_quota": 1, "max_attempts": 3, "quota_reached": count >= 1}}


def ok(result: dict | None = None) -> list[dict]:
    return [{"Return": result or {}}]


def one_video_with_a_spot_interruption() -> MockCase:
    return MockCase(
        "spot",
        {
            "CheckQuota": [quota(0)],
            "FetchManga": ok({"status": "success", "job_id": "job-1"}),
            "PrepareScriptInput": ok(),
            "GenerateScript": ok(),
            "GenerateTTS": ok(),
            "StartRenderer": ok(),
            "WaitForRender": [{"Throw": {"Error": "SpotInterrupted", "Cause": "reclaimed"}}, {"Return": {"v": 1}}],
            "StartUploader": ok(),
            "WaitForUpload": ok({"video_id": "local-job-1", "channel": "local"}),
            "Cleanup": ok(),
            "IncrementCounter": [quota(1)],
        },
    )


def test_spans_follow_the_history_and_count_the_interrupted_render(aws: LocalAws, tmp_path: Path) -> None:
    aws.dispatcher.mock_case = one_video_with_a_spot_interruption()
    arn = aws.start_execution({}, name="report-spot")
    assert aws.wait(arn)["status"] == "SUCCEEDED"
    spans = state_spans(aws.history(arn))

    first_states = ["Initialize", "CheckQuota", "QuotaChoice", "StartAttempt", "FetchManga"]
    assert [span.state for span in spans][:5] == first_states
    render = next(span for span in spans if span.state == "WaitForRender")
    assert (render.failures, render.errors, render.lambda_invocations) == (1, ["SpotInterrupted"], 2)
    assert all(span.end is not None for span in spans)
    assert in_flight_job(spans) is None

    videos = video_reports(spans, {"job-1": {"cost_usd": {"claude": 0.5}}}, output_dir=tmp_path, cost_model=CostModel())
    assert [(video.attempt, video.job_id, video.outcome) for video in videos] == [(1, "job-1", "published")]
    assert videos[0].upload == {"video_id": "local-job-1", "channel": "local"}
    costs = videos[0].costs
    assert costs["claude"] == 0.5
    assert costs["step_functions"] == len(videos[0].spans) * CostModel().transition_usd
    assert costs["spot"] > 0  # estimated from the waits: these mocked workers record nothing
    recorded = video_reports(
        spans, {"job-1": {"cost_usd": {"spot": 0.25}}}, output_dir=tmp_path, cost_model=CostModel()
    )
    assert recorded[0].costs["spot"] == 0.25  # the workers' own record replaces the estimate
    assert ("WaitForRender", render.seconds, 1) in videos[0].state_seconds()

    svg = ET.fromstring(timeline_svg(spans))
    bars = [node for node in svg.iter() if node.tag.endswith("rect") and len(node)]  # a bar has a tooltip
    assert len(bars) == len(spans)
    assert sum(1 for bar in bars if bar.get("fill") == "#e15759") == 1  # the interrupted render


def test_a_turn_that_has_not_finished_names_its_job_as_in_flight(aws: LocalAws) -> None:
    case = one_video_with_a_spot_interruption()
    case.responses["WaitForRender"] = [{"Throw": {"Error": "RenderError", "Cause": "x"}}]
    handled = {"job_id": "job-1", "failed_at": "WaitForRender", "error": "RenderError", "error_message": "no ffmpeg"}
    case.responses["HandleError"] = [{"Return": handled}]
    case.responses["FetchManga"] = [*case.responses["FetchManga"], {"Return": {"status": "no_manga_available"}}]
    aws.dispatcher.mock_case = case
    arn = aws.start_execution({}, name="report-failed")
    aws.wait(arn)
    spans = state_spans(aws.history(arn))
    unfinished = [span for span in spans if span.attempt <= 1 and span.state not in {"HandleError", "CheckMoreVideos"}]
    assert in_flight_job(unfinished) == "job-1"
    assert in_flight_job(spans) is None
    [video] = video_reports(spans, {}, output_dir=Path("."), cost_model=CostModel())
    assert (video.outcome, video.error) == ("failed", "RenderError at WaitForRender: no ffmpeg")


def test_a_snapshot_restores_tables_and_objects_into_a_fresh_emulator(aws: LocalAws, services, tmp_path: Path) -> None:
    services.storage.put_bytes("jobs/job-1/render/segments/001.mp4", b"segment")
    dynamodb = aws.client("dynamodb")
    dynamodb.put_item(TableName=aws.counters_table, Item={"date": {"S": "2026-01-02"}, "count": {"N": "2"}})
    dynamodb.put_item(TableName=aws.jobs_table, Item={"job_id": {"S": "job-1"}, "status": {"S": "voiced"}})
    targets = {"dynamodb": dynamodb, "s3": aws.client("s3"), "tables": [aws.jobs_table, aws.counters_table]}
    persistence.save(tmp_path, bucket=aws.bucket, **targets)

    aws.reset()
    aws.create_storage()
    assert persistence.restore(tmp_path, bucket=aws.bucket, **targets) == (2, 1)
    assert services.counters.count("2026-01-02") == 2
    assert services.jobs.get("job-1")["status"] == "voiced"
    assert services.storage.get_bytes("jobs/job-1/render/segments/001.mp4") == b"segment"
    assert persistence.object_keys(tmp_path) == ["jobs/job-1/render/segments/001.mp4"]
    assert persistence.table_items(tmp_path, aws.counters_table) == [{"date": "2026-01-02", "count": 2}]
