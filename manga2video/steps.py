"""The small states of the loop: quota, counting, cleanup and error handling.

Each function takes the state's event and the services, and returns the small dict the
ASL puts at the state's ResultPath.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from manga2video.errors import JobStateError
from manga2video.jobs import pacific_date, quota_view
from manga2video.observability import MetricUnit, count_by, logger, metrics
from manga2video.services import Services
from manga2video.storage import JobKeys

# Each state's ResultPath key and the state that runs after it succeeds, in flow order:
# the last key present in HandleError's input tells which state failed.
_RESULT_THEN_STATE = (
    ("quota", "FetchManga"),
    ("job", "PrepareScriptInput"),
    ("script_input", "GenerateScript"),
    ("script", "GenerateTTS"),
    ("tts", "StartRenderer"),
    ("render_plan", "WaitForRender"),
    ("render", "StartUploader"),
    ("upload_plan", "WaitForUpload"),
    ("upload", "Cleanup"),
    ("cleanup", "IncrementCounter"),
)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    number = int(value)
    if number < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return number


def check_quota(event: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """Today's count against the quota; `daily_quota` in the execution input wins over config."""
    settings = services.settings
    daily_quota = _positive_int(event.get("daily_quota", settings.daily_quota), "daily_quota")
    max_attempts = _positive_int(event.get("max_attempts", settings.max_attempts), "max_attempts")
    date = pacific_date(timezone=settings.quota_timezone)
    count = services.counters.count(date)
    view = quota_view(date=date, count=count, daily_quota=daily_quota, max_attempts=max_attempts)
    logger.info("quota checked", extra=view)
    return view


def increment_counter(event: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """Count the uploaded video once on today's Pacific date and hand the loop its new quota."""
    job_id = event["job_id"]
    quota = event["quota"]
    date = pacific_date(timezone=services.settings.quota_timezone)
    count = services.counters.increment(
        date, jobs_table_name=services.settings.jobs_table, job_id=job_id, client=services.client("dynamodb")
    )
    metrics.add_metric(name="VideosPublished", unit=MetricUnit.Count, value=1)
    job = services.jobs.get(job_id)
    cost = sum(float(value) for value in (job.get("cost_usd") or {}).values())
    if cost:
        metrics.add_metric(name="CostPerVideoUSD", unit=MetricUnit.NoUnit, value=cost)
    return quota_view(
        date=date, count=count, daily_quota=int(quota["daily_quota"]), max_attempts=int(quota["max_attempts"])
    )


def cleanup(event: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """Delete the job's working files; the video lives on YouTube now."""
    job_id = event["job_id"]
    objects_deleted, bytes_freed = services.storage.delete_prefix(JobKeys(job_id).prefix)
    services.jobs.transition(job_id, "cleaned", bytes_freed=bytes_freed)
    return {"objects_deleted": objects_deleted, "bytes_freed": bytes_freed}


def failed_state(event: Mapping[str, Any]) -> str:
    """The state that failed, read from which results the state input already holds."""
    failed_at = "CheckQuota"
    for key, next_state in _RESULT_THEN_STATE:
        if key in event:
            failed_at = next_state
    job = event.get("job")
    if failed_at == "PrepareScriptInput" and isinstance(job, Mapping) and job.get("status") == "resume_upload":
        return "StartUploader"
    return failed_at


def error_details(error: Mapping[str, Any]) -> tuple[str, str]:
    """(error name, readable message) from a Catch's {"Error", "Cause"}."""
    name = str(error.get("Error") or "UnknownError")
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, Mapping) and parsed.get("errorMessage"):
        return name, str(parsed["errorMessage"])
    return name, str(cause) or name


def handle_error(event: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """Record the failure on the job (when there is one), alert, and let the loop go on."""
    error, message = error_details(event.get("error") or {})
    failed_at = failed_state(event)
    job = event.get("job") if isinstance(event.get("job"), Mapping) else {}
    job_id = job.get("job_id")
    if job_id:
        try:
            services.jobs.mark_failed(job_id, error=error, error_message=message, failed_at=failed_at)
        except JobStateError:
            # already published (or never created): keep the record as it is, note the error
            logger.warning("job not marked failed", extra={"reason": "missing or already published"})
            if services.jobs.find(job_id):
                services.jobs.update_fields(job_id, last_error=f"{error} at {failed_at}: {message}"[:2000])
    logger.error("video failed", extra={"failed_at": failed_at, "error": error, "error_message": message})
    count_by("StateErrors", dimension="state", value=failed_at)
    topic = services.settings.alert_topic_arn
    if topic:
        services.client("sns").publish(
            TopicArn=topic,
            Subject=f"manga2video: {error} at {failed_at}"[:100],
            Message=json.dumps({"job_id": job_id, "failed_at": failed_at, "error": error, "error_message": message}),
        )
    return {"job_id": job_id, "failed_at": failed_at, "error": error, "error_message": message[:500]}
