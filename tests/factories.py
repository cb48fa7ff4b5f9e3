"""Test data shared by several test modules."""

from __future__ import annotations

from manga2video.jobs import STATUS_ORDER, Chapter
from manga2video.services import Services


def job_in_status(services: Services, number: int = 1, status: str = "claimed") -> str:
    """A job for chapter `number` of a test comic, moved along the happy path up to `status`."""
    job = services.jobs.claim_chapter(
        Chapter(f"truyen-mau/{number}", "truyen-mau", "Truyện Mẫu", f"Chapter {number}", f"http://x/{number}"),
        owner="test",
        lease_seconds=3600,
        max_failures=3,
    )
    for step in STATUS_ORDER[1 : STATUS_ORDER.index(status) + 1]:
        services.jobs.transition(job["job_id"], step)
    return job["job_id"]
