"""The jobs store and the daily counter against DynamoDB (moto)."""

from __future__ import annotations

import datetime as dt

import pytest

from manga2video.errors import JobStateError
from manga2video.jobs import Chapter, CounterStore, JobsStore, job_id_for, pacific_date
from manga2video.services import Services


def chapter(number: int = 1) -> Chapter:
    return Chapter(
        chapter_key=f"truyen-mau/{1000 + number}",
        comic_key="truyen-mau",
        comic_title="Truyện Mẫu",
        chapter_title=f"Chapter {number}",
        chapter_url=f"http://example.test/truyen-tranh/truyen-mau/chap-{number}/{1000 + number}",
        chapter_number=float(number),
    )


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jobs(services: Services, clock: Clock) -> JobsStore:
    return JobsStore(services.dynamodb.Table(services.settings.jobs_table), clock=clock)


def claim(jobs: JobsStore, number: int = 1, owner: str = "run-1", max_failures: int = 3) -> dict | None:
    return jobs.claim_chapter(chapter(number), owner=owner, lease_seconds=3600, max_failures=max_failures)


def test_job_id_is_the_same_for_the_same_chapter_and_safe_in_s3_keys() -> None:
    job_id = job_id_for("Hôn Nhân/776047")
    assert job_id == job_id_for("Hôn Nhân/776047")
    assert job_id != job_id_for("Hôn Nhân/776048")
    assert all(char.isalnum() or char == "-" for char in job_id)


def test_the_quota_day_turns_at_midnight_pacific_not_utc() -> None:
    before = dt.datetime(2026, 11, 30, 7, 59, tzinfo=dt.UTC)  # 23:59 PST on the 29th
    after = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    assert pacific_date(before) == "2026-11-29"
    assert pacific_date(after) == "2026-11-30"


def test_a_chapter_is_claimed_once(jobs: JobsStore) -> None:
    first = claim(jobs, owner="run-1")
    assert first is not None and first["status"] == "claimed" and first["owner"] == "run-1"
    assert claim(jobs, owner="run-2") is None


def test_a_failed_chapter_is_taken_again_until_it_failed_max_times(jobs: JobsStore) -> None:
    job_id = claim(jobs)["job_id"]
    for attempt in range(2):
        jobs.mark_failed(job_id, error="RenderError", error_message=f"try {attempt}", failed_at="WaitForRender")
        again = claim(jobs, max_failures=2)
        if attempt == 0:
            assert again is not None and "error_message" not in again
        else:
            assert again is None, "two failures with max_failures=2: skipped for good"
    assert jobs.get(job_id)["failures"] == 2


def test_a_crashed_runs_chapter_is_taken_over_once_its_lease_lapses(jobs: JobsStore, clock: Clock) -> None:
    claim(jobs, owner="crashed-run")
    assert claim(jobs, owner="next-run") is None
    clock.now += 3601
    taken = claim(jobs, owner="next-run")
    assert taken is not None and taken["owner"] == "next-run"


def test_statuses_move_only_forward(jobs: JobsStore) -> None:
    job_id = claim(jobs)["job_id"]
    with pytest.raises(JobStateError, match="cannot become scripted from claimed"):
        jobs.transition(job_id, "scripted")
    fetched = jobs.transition(job_id, "fetched", page_count=8)
    assert fetched["status"] == "fetched" and fetched["page_count"] == 8
    assert "fetched" in fetched["timings"]


def test_a_published_job_is_never_marked_failed(jobs: JobsStore) -> None:
    job_id = claim(jobs)["job_id"]
    for status in ("fetched", "scripted", "voiced", "rendered", "uploaded"):
        jobs.transition(job_id, status)
    with pytest.raises(JobStateError):
        jobs.mark_failed(job_id, error="X", error_message="late", failed_at="Cleanup")
    assert jobs.get(job_id)["status"] == "uploaded"


def test_a_deferred_upload_is_handed_to_one_run_only(jobs: JobsStore) -> None:
    job_id = claim(jobs)["job_id"]
    for status in ("fetched", "scripted", "voiced", "rendered"):
        jobs.transition(job_id, status)
    jobs.defer_upload(job_id, reason="quotaExceeded")
    assert [job["job_id"] for job in jobs.deferred_uploads()] == [job_id]
    assert jobs.claim_deferred_upload(job_id, owner="run-2")["status"] == "rendered"
    assert jobs.claim_deferred_upload(job_id, owner="run-3") is None
    assert jobs.deferred_uploads() == []


def test_costs_accumulate_per_component(jobs: JobsStore) -> None:
    job_id = claim(jobs)["job_id"]
    jobs.add_cost(job_id, "claude", 0.0125)
    jobs.add_cost(job_id, "claude", 0.0100)
    jobs.add_cost(job_id, "spot", 0.004)
    assert jobs.get(job_id)["cost_usd"] == {"claude": 0.0225, "spot": 0.004}


def test_the_counter_adds_atomically_and_counts_a_job_once(services: Services, jobs: JobsStore) -> None:
    counters = CounterStore(services.dynamodb.Table(services.settings.counters_table))
    first, second = claim(jobs, 1)["job_id"], claim(jobs, 2)["job_id"]
    client = services.client("dynamodb")
    table = services.settings.jobs_table
    assert counters.increment("2026-11-29", jobs_table_name=table, job_id=first, client=client) == 1
    assert counters.increment("2026-11-29", jobs_table_name=table, job_id=first, client=client) == 1, "a retry"
    assert counters.increment("2026-11-29", jobs_table_name=table, job_id=second, client=client) == 2
    assert counters.count("2026-11-30") == 0
    item = services.dynamodb.Table(services.settings.counters_table).get_item(Key={"date": "2026-11-29"})["Item"]
    assert int(item["expires_at"]) > 0, "counters expire through the table's TTL"


def test_each_step_renews_the_lease_so_a_long_render_keeps_its_chapter(jobs: JobsStore, clock: Clock) -> None:
    job_id = claim(jobs, owner="run-1")["job_id"]
    clock.now += 3000
    jobs.transition(job_id, "fetched")
    clock.now += 3000  # 6000 s after the claim, 3000 s after the last step
    assert claim(jobs, owner="run-2") is None
    clock.now += 601
    assert claim(jobs, owner="run-2") is not None


def test_a_step_refuses_a_job_in_the_wrong_status_and_says_why(jobs: JobsStore) -> None:
    job_id = claim(jobs)["job_id"]
    with pytest.raises(JobStateError, match=r"is claimed; pages come first"):
        jobs.get_in(job_id, {"fetched"}, why="pages come first")
    assert jobs.get_in(job_id, {"claimed", "fetched"}, why="-")["job_id"] == job_id
