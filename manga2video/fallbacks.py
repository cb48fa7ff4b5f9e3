"""Offline fallbacks must never pass unnoticed: each one logs a WARNING and is listed on the job."""

from __future__ import annotations

from manga2video.jobs import JobsStore
from manga2video.observability import logger


def record_fallback(jobs: JobsStore, job_id: str, what: str, *, reason: str) -> None:
    """Log the fallback and add `what` to the job's `fallbacks` list (once, so retries don't repeat it)."""
    logger.warning(f"fallback: {what}", extra={"fallback": what, "reason": reason})
    fallbacks = list(jobs.get(job_id).get("fallbacks") or [])
    if what not in fallbacks:
        jobs.update_fields(job_id, fallbacks=[*fallbacks, what])
