"""Paths that need more than mocked answers: real handlers changing moto, and workers calling back.

The workers here are threads standing in for the Spot instances: they use the real
workers/callback.py against the emulator, so heartbeats, SendTaskSuccess and
SendTaskFailure travel the same way as from an instance.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3

from manga2video.errors import SpotInterrupted, YouTubeQuotaError
from manga2video.local.emulator import LocalAws, entered_states
from manga2video.local.mock_config import MockCase
from manga2video.services import Services
from manga2video.storage import JobKeys
from tests.factories import job_in_status
from workers.callback import TaskCallback

Worker = Callable[[dict[str, Any], TaskCallback], None]


def ret(payload: dict[str, Any]) -> dict[str, Any]:
    return {"Return": payload}


def mocked_upto(job_id: str, **overrides: list[dict[str, Any]]) -> MockCase:
    """Every state before the callbacks mocked, for one job; the rest as given or real."""
    found = {"status": "success", "job_id": job_id, "comic_title": "Truyện Mẫu", "chapter_title": "Chapter 1"}
    responses = {
        "FetchManga": [ret(found), ret({"status": "no_manga_available"})],
        "PrepareScriptInput": [ret({"key": "k", "image_count": 8})],
        "GenerateScript": [ret({"key": "k", "scene_count": 6})],
        "GenerateTTS": [ret({"key": "k", "duration_s": 60.0})],
        "StartRenderer": [ret({"manifest_key": "k", "segments": 7})],
        "StartUploader": [ret({"metadata_key": "k"})],
        **overrides,
    }
    return MockCase(name="inline", responses=responses)


class WorkerLauncher:
    """Stands in for the launch Lambda: each launch starts a new worker thread."""

    def __init__(self, *workers: Worker) -> None:
        self.workers = list(workers)
        self.launches: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: object) -> dict[str, Any]:
        worker = self.workers[min(len(self.launches), len(self.workers) - 1)]
        self.launches.append(event)
        threading.Thread(target=self._run, args=(worker, event), daemon=True).start()
        return {"launched": event["kind"], "backend": "thread", "worker": len(self.launches)}

    @staticmethod
    def _run(worker: Worker, event: dict[str, Any]) -> None:
        sfn = boto3.client("stepfunctions")
        with TaskCallback(sfn, event["task_token"], heartbeat_seconds=0.2) as callback:
            try:
                worker(event, callback)
            except Exception as exc:  # reported exactly as a real worker reports it
                callback.fail(exc)


def run(aws: LocalAws, payload: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    arn = aws.start_execution(payload or {"daily_quota": 1}, name=f"run-{uuid.uuid4().hex[:8]}")
    described = aws.wait(arn, timeout=180)
    return described, entered_states(aws.history(arn))


def test_cleanup_and_increment_counter_really_change_s3_and_dynamodb(aws: LocalAws, services: Services) -> None:
    job_id = job_in_status(services, 1, "uploaded")
    keys = JobKeys(job_id)
    for index in range(1, 4):
        services.storage.put_bytes(keys.page(index), b"page" * 100)
    services.storage.put_bytes(keys.video, b"video" * 1000)
    aws.dispatcher.mock_case = mocked_upto(
        job_id,
        WaitForRender=[ret({"video_key": keys.video})],
        WaitForUpload=[ret({"video_id": "abc", "channel": "youtube"})],
    )
    _described, states = run(aws)
    assert states[-1] == "Done"
    assert services.storage.list_keys(keys.prefix) == []
    job = services.jobs.get(job_id)
    assert job["status"] == "cleaned" and job["bytes_freed"] == 3 * 400 + 5000
    assert services.counters.count(job["counted_on"]) == 1


def test_a_render_worker_that_stops_heartbeating_is_replaced_twice_then_handled(
    aws: LocalAws, services: Services
) -> None:
    aws.create_state_machine(aws.render_definition({"renderer_heartbeat_seconds": 1}), name="pipeline-hb")
    job_id = job_in_status(services, 1, "voiced")

    def goes_silent(event: dict[str, Any], callback: TaskCallback) -> None:
        callback.stop_heartbeats()  # the instance vanished without a word
        time.sleep(30)

    launcher = WorkerLauncher(goes_silent)
    aws.dispatcher.overrides["wait_for_render"] = launcher
    aws.dispatcher.mock_case = mocked_upto(job_id)
    _described, states = run(aws)
    assert len(launcher.launches) == 3, "the first launch and two retries, each a new worker"
    assert aws.retry_sleeps.intervals == [60, 90]
    assert states[states.index("WaitForRender") + 1] == "HandleError"
    job = services.jobs.get(job_id)
    assert (job["status"], job["failed_at"]) == ("failed", "WaitForRender")
    assert job["error"] in {"States.HeartbeatTimeout", "States.Timeout"}  # moto says States.Timeout


def test_a_spot_interruption_is_retried_within_seconds_on_a_new_worker(aws: LocalAws, services: Services) -> None:
    job_id = job_in_status(services, 1, "voiced")

    def interrupted(event: dict[str, Any], callback: TaskCallback) -> None:
        time.sleep(0.5)  # a heartbeat or two first
        raise SpotInterrupted("spot/instance-action: terminate at 2026-11-29T22:00:00Z")

    def finishes(event: dict[str, Any], callback: TaskCallback) -> None:
        time.sleep(1)  # heartbeats first: they must not wake the task to the previous attempt's failure
        assert callback.heartbeats_sent >= 2
        callback.succeed({"video_key": JobKeys(event["job_id"]).video, "segments_reused": 5})

    launcher = WorkerLauncher(interrupted, finishes)
    aws.dispatcher.overrides["wait_for_render"] = launcher
    aws.dispatcher.mock_case = mocked_upto(
        job_id,
        WaitForUpload=[ret({"video_id": "abc"})],
        Cleanup=[ret({})],
        IncrementCounter=[ret({"count": 1, "daily_quota": 1, "max_attempts": 9, "quota_reached": True})],
    )
    _described, states = run(aws)
    assert len(launcher.launches) == 2
    assert aws.retry_sleeps.intervals == [5]
    assert "HandleError" not in states and states[-1] == "Done"


def test_youtube_quota_defers_the_job_and_the_next_execution_uploads_it_without_rendering(
    aws: LocalAws, services: Services
) -> None:
    job_id = job_in_status(services, 1, "voiced")

    def quota_day(event: dict[str, Any], callback: TaskCallback) -> None:
        services.jobs.defer_upload(event["job_id"], reason="quotaExceeded")
        raise YouTubeQuotaError("quotaExceeded: the daily quota is used up")

    def next_day(event: dict[str, Any], callback: TaskCallback) -> None:
        services.jobs.transition(event["job_id"], "uploaded", video_id="yt-123")
        callback.succeed({"video_id": "yt-123", "url": "https://youtu.be/yt-123", "channel": "youtube"})

    def rendered(event: dict[str, Any], callback: TaskCallback) -> None:
        services.jobs.transition(event["job_id"], "rendered", video_key=JobKeys(event["job_id"]).video)
        callback.succeed({"video_key": JobKeys(event["job_id"]).video})

    renderer, uploader = WorkerLauncher(rendered), WorkerLauncher(quota_day, next_day)
    aws.dispatcher.overrides.update(wait_for_render=renderer, wait_for_upload=uploader)
    aws.dispatcher.mock_case = mocked_upto(job_id)
    described, states = run(aws)
    assert described["status"] == "SUCCEEDED", "a quota day is not a failed execution"
    assert states[-2:] == ["WaitForUpload", "QuotaReached"]
    assert services.jobs.get(job_id)["status"] == "upload_deferred"

    # the next day: the real FetchManga hands back the deferred upload before any new chapter
    responses = dict(mocked_upto(job_id).responses)
    del responses["FetchManga"]
    aws.dispatcher.mock_case = MockCase(name="next-day", responses=responses)
    _described, states = run(aws)
    assert states[-1] == "Done"
    assert "WaitForRender" not in states and "GenerateScript" not in states
    assert len(renderer.launches) == 1 and len(uploader.launches) == 2
    job = services.jobs.get(job_id)
    assert (job["status"], job["video_id"]) == ("cleaned", "yt-123")
    assert services.counters.count(job["counted_on"]) == 1
