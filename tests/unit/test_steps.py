"""The small states' core: quota, counting, cleanup and error handling, on moto."""

from __future__ import annotations

import json

import pytest

from manga2video.config import Settings
from manga2video.services import Services
from manga2video.steps import check_quota, cleanup, failed_state, handle_error, increment_counter
from manga2video.storage import JobKeys
from tests.factories import job_in_status


def test_check_quota_takes_daily_quota_from_the_input_over_configuration(services: Services) -> None:
    assert check_quota({}, services)["daily_quota"] == services.settings.daily_quota
    view = check_quota({"daily_quota": 1}, services)
    assert view == {**view, "count": 0, "daily_quota": 1, "quota_reached": False}


@pytest.mark.parametrize("bad", [0, -2, "many", True, 1.5])
def test_check_quota_rejects_a_quota_that_is_not_a_positive_whole_number(services: Services, bad: object) -> None:
    with pytest.raises(ValueError, match="daily_quota"):
        check_quota({"daily_quota": bad}, services)


def test_increment_counter_counts_each_job_once_in_dynamodb(services: Services) -> None:
    first, second = job_in_status(services, 1, "cleaned"), job_in_status(services, 2, "cleaned")
    quota = check_quota({"daily_quota": 2}, services)
    after_first = increment_counter({"job_id": first, "quota": quota}, services)
    assert after_first["count"] == 1 and not after_first["quota_reached"]
    assert increment_counter({"job_id": first, "quota": quota}, services)["count"] == 1, "a retried call"
    after_second = increment_counter({"job_id": second, "quota": quota}, services)
    assert after_second["count"] == 2 and after_second["quota_reached"]
    assert services.counters.count(after_second["date"]) == 2
    assert services.jobs.get(first)["counted_on"] == after_second["date"]


def test_cleanup_deletes_only_the_jobs_own_files(services: Services) -> None:
    job_id, other = job_in_status(services, 1, "uploaded"), job_in_status(services, 2, "uploaded")
    keys, other_keys = JobKeys(job_id), JobKeys(other)
    services.storage.put_bytes(keys.page(1), b"x" * 100)
    services.storage.put_bytes(keys.video, b"v" * 1000)
    services.storage.put_json(keys.script, {"title": "t"})
    services.storage.put_bytes(other_keys.video, b"keep")
    result = cleanup({"job_id": job_id}, services)
    assert result["objects_deleted"] == 3
    assert result["bytes_freed"] == 1100 + len(json.dumps({"title": "t"}, indent=2))
    assert services.storage.list_keys(keys.prefix) == []
    assert services.storage.exists(other_keys.video)
    assert services.jobs.get(job_id)["status"] == "cleaned"


def test_handle_error_marks_the_job_failed_where_it_failed(services: Services) -> None:
    job_id = job_in_status(services, 1, "voiced")
    event = {
        "quota": {},
        "job": {"job_id": job_id, "status": "success"},
        "script_input": {},
        "script": {},
        "tts": {},
        "error": {"Error": "RenderError", "Cause": json.dumps({"errorMessage": "page 7 is corrupt"})},
    }
    result = handle_error(event, services)
    assert result["failed_at"] == "StartRenderer"
    job = services.jobs.get(job_id)
    assert (job["status"], job["error"], job["error_message"], job["failed_at"]) == (
        "failed",
        "RenderError",
        "page 7 is corrupt",
        "StartRenderer",
    )
    assert job["failures"] == 1


def test_handle_error_keeps_a_published_job_and_notes_the_error(services: Services) -> None:
    job_id = job_in_status(services, 1, "cleaned")
    event = {"quota": {}, "job": {"job_id": job_id}, "cleanup": {}, "error": {"Error": "States.Timeout"}}
    assert handle_error(event, services)["failed_at"] == "IncrementCounter"
    job = services.jobs.get(job_id)
    assert job["status"] == "cleaned"
    assert job["last_error"].startswith("States.Timeout at IncrementCounter")


def test_handle_error_alerts_through_sns_when_a_topic_is_configured(services: Services, settings: Settings) -> None:
    sns, sqs = services.client("sns"), services.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    alerting = Services(Settings(**{**settings.__dict__, "alert_topic_arn": topic}))
    handle_error({"quota": {}, "error": {"Error": "CloudflareChallengeError", "Cause": "challenge"}}, alerting)
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
    alert = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert alert == {
        "job_id": None,
        "failed_at": "FetchManga",
        "error": "CloudflareChallengeError",
        "error_message": "challenge",
    }


@pytest.mark.parametrize(
    ("present", "failed_at"),
    [
        ([], "CheckQuota"),
        (["quota"], "FetchManga"),
        (["quota", "job"], "PrepareScriptInput"),
        (["quota", "job", "script_input", "script", "tts", "render_plan"], "WaitForRender"),
        (["quota", "job", "script_input", "script", "tts", "render_plan", "render", "upload_plan"], "WaitForUpload"),
    ],
)
def test_the_failed_state_is_read_from_the_results_present(present: list[str], failed_at: str) -> None:
    assert failed_state({key: {} for key in present}) == failed_at


def test_a_resumed_upload_that_fails_at_start_uploader_is_named_so() -> None:
    assert failed_state({"quota": {}, "job": {"status": "resume_upload"}}) == "StartUploader"
