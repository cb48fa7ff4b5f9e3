"""The job records and the daily counter, on DynamoDB.

One job per chapter: its job_id is derived from the chapter's identity, so the
conditional write that creates or re-claims it is what guarantees that no chapter is
processed twice, even by two executions at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from manga2video.errors import JobStateError

# The happy path, in order; a job may also end as failed or wait as upload_deferred.
STATUS_ORDER = ("claimed", "fetched", "scripted", "voiced", "rendered", "uploaded", "cleaned")
FAILED = "failed"
UPLOAD_DEFERRED = "upload_deferred"
IN_PROGRESS = frozenset(STATUS_ORDER[:-1])
STATUS_INDEX = "status-index"

_ALLOWED_FROM: dict[str, frozenset[str]] = {
    "fetched": frozenset({"claimed"}),
    "scripted": frozenset({"fetched", "scripted"}),
    "voiced": frozenset({"scripted", "voiced"}),
    "rendered": frozenset({"voiced", "rendered", UPLOAD_DEFERRED}),
    "uploaded": frozenset({"rendered", "uploaded"}),
    "cleaned": frozenset({"uploaded", "cleaned"}),
    UPLOAD_DEFERRED: frozenset({"rendered", UPLOAD_DEFERRED}),
    FAILED: IN_PROGRESS | {FAILED, UPLOAD_DEFERRED},
}


def pacific_date(now: dt.datetime | None = None, timezone: str = "America/Los_Angeles") -> str:
    """The quota day: YouTube resets its quota at midnight Pacific time."""
    moment = now or dt.datetime.now(dt.UTC)
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()


def job_id_for(chapter_key: str) -> str:
    """A readable, S3-safe job id that is the same for the same chapter on any domain."""
    slug = re.sub(r"[^a-z0-9]+", "-", chapter_key.lower()).strip("-")[:80]
    digest = hashlib.sha256(chapter_key.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"


def _now_iso(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds")


def to_plain(value: Any) -> Any:
    """DynamoDB hands numbers back as Decimal; state payloads and JSON want int/float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    return value


def to_dynamo(value: Any) -> Any:
    """The reverse of to_plain: DynamoDB refuses floats."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: to_dynamo(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(item) for item in value]
    return value


@dataclass(frozen=True)
class Chapter:
    """What identifies a chapter across domain changes, and what we show of it."""

    chapter_key: str  # e.g. "hon-nhan-hanh-phuc-cua-toi/776047": comic slug and chapter id
    comic_key: str
    comic_title: str
    chapter_title: str
    chapter_url: str
    comic_url: str = ""
    chapter_number: float | None = None


class JobsStore:
    """Job records: creation by claim, status transitions, failure and deferral."""

    def __init__(self, table: Any, *, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    def get(self, job_id: str) -> dict[str, Any]:
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise JobStateError(f"job {job_id} does not exist")
        return to_plain(item)

    def get_in(self, job_id: str, statuses: set[str], *, why: str) -> dict[str, Any]:
        """The job, if a step may work on it now; a clear JobStateError naming `why` if not."""
        job = self.get(job_id)
        if job["status"] not in statuses:
            raise JobStateError(f"job {job_id} is {job['status']}; {why}")
        return job

    def find(self, job_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return to_plain(item) if item else None

    def _update_if(self, job_id: str, **update: Any) -> dict[str, Any] | None:
        """A conditional update_item returning the new item, or None when the condition fails."""
        try:
            result = self._table.update_item(Key={"job_id": job_id}, ReturnValues="ALL_NEW", **update)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return to_plain(result["Attributes"])

    def claim_chapter(
        self, chapter: Chapter, *, owner: str, lease_seconds: int, max_failures: int
    ) -> dict[str, Any] | None:
        """Create or re-claim the chapter's job; None if another run has it or it is done.

        A failed job is taken again until it has failed max_failures times; an
        in-progress job whose lease lapsed (its run crashed) is taken over.
        """
        now = self._clock()
        return self._update_if(
            job_id_for(chapter.chapter_key),
            UpdateExpression=(
                "SET #status = :claimed, chapter_key = :key, comic_key = :comic, comic_title = :ctitle,"
                " chapter_title = :title, chapter_url = :url, comic_url = :curl, chapter_number = :num,"
                " #owner = :owner, lease_until = :lease, lease_seconds = :lease_seconds, updated_at = :iso,"
                " created_at = if_not_exists(created_at, :iso), failures = if_not_exists(failures, :zero),"
                " timings = if_not_exists(timings, :no_timings)"
                " REMOVE error_message, failed_at"
            ),
            ConditionExpression=(
                "attribute_not_exists(job_id)"
                " OR (#status = :failed AND failures < :max_failures)"
                " OR (#status IN (:s0, :s1, :s2, :s3, :s4, :s5) AND lease_until < :now)"
            ),
            ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
            ExpressionAttributeValues={
                ":claimed": "claimed",
                ":key": chapter.chapter_key,
                ":comic": chapter.comic_key,
                ":ctitle": chapter.comic_title,
                ":title": chapter.chapter_title,
                ":url": chapter.chapter_url,
                ":curl": chapter.comic_url,
                ":num": to_dynamo(chapter.chapter_number),
                ":owner": owner,
                ":lease": Decimal(int(now + lease_seconds)),
                ":lease_seconds": lease_seconds,
                ":iso": _now_iso(now),
                ":zero": 0,
                ":no_timings": {},
                ":failed": FAILED,
                ":max_failures": max_failures,
                ":now": Decimal(int(now)),
                **{f":s{index}": status for index, status in enumerate(STATUS_ORDER[:-1])},
            },
        )

    def chapter_state(self, chapter_key: str) -> dict[str, Any] | None:
        """The chapter's job, if any: lets a picker skip done or exhausted chapters cheaply."""
        return self.find(job_id_for(chapter_key))

    def transition(self, job_id: str, status: str, **fields: Any) -> dict[str, Any]:
        """Move a job to `status` (only from the statuses allowed before it), setting fields.

        Each step renews the claim's lease, so a long render or upload never lets another
        execution take over a chapter that is still moving.
        """
        allowed = sorted(_ALLOWED_FROM[status])
        names = {"#status": "status"}
        now = self._clock()
        values: dict[str, Any] = {":new": status, ":iso": _now_iso(now), ":now": Decimal(int(now))}
        sets = [
            "#status = :new",
            "updated_at = :iso",
            f"timings.#t_{status} = :iso",
            "lease_until = if_not_exists(lease_seconds, :zero_lease) + :now",
        ]
        values[":zero_lease"] = 0
        names[f"#t_{status}"] = status
        for index, (name, value) in enumerate(fields.items()):
            names[f"#f{index}"] = name
            values[f":f{index}"] = to_dynamo(value)
            sets.append(f"#f{index} = :f{index}")
        for index, previous in enumerate(allowed):
            values[f":from{index}"] = previous
        condition = "#status IN (" + ", ".join(f":from{index}" for index in range(len(allowed))) + ")"
        updated = self._update_if(
            job_id,
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression=f"attribute_exists(job_id) AND {condition}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        if updated is None:
            current = self.find(job_id)
            found = current["status"] if current else "missing"
            raise JobStateError(f"job {job_id} cannot become {status} from {found}")
        return updated

    def update_fields(self, job_id: str, **fields: Any) -> None:
        """Record facts (keys, costs, ids) without changing the status."""
        names = {f"#f{index}": name for index, name in enumerate(fields)}
        values = {f":f{index}": to_dynamo(value) for index, value in enumerate(fields.values())}
        self._table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET " + ", ".join(f"#f{index} = :f{index}" for index in range(len(fields))),
            ConditionExpression="attribute_exists(job_id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def add_cost(self, job_id: str, component: str, usd: float) -> None:
        """Add to the job's cost breakdown; repeated calls accumulate (retries cost too)."""
        self._table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET cost_usd = if_not_exists(cost_usd, :empty)",
            ConditionExpression="attribute_exists(job_id)",
            ExpressionAttributeValues={":empty": {}},
        )
        self._table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="ADD cost_usd.#component :usd",
            ExpressionAttributeNames={"#component": component},
            ExpressionAttributeValues={":usd": Decimal(str(round(usd, 6)))},
        )

    def add_worker_time(self, job_id: str, seconds: float, usd_per_hour: float) -> None:
        """A worker's run, success or not, as Spot cost: an interrupted render costs money too."""
        self.add_cost(job_id, "spot", seconds / 3600 * usd_per_hour)

    def mark_failed(self, job_id: str, *, error: str, error_message: str, failed_at: str) -> dict[str, Any]:
        """Record the failure; the chapter may be claimed again until max_failures.

        A published job (uploaded or cleaned) is never marked failed: taking its chapter
        again would post the same video twice.
        """
        now = self._clock()
        updated = self._update_if(
            job_id,
            UpdateExpression=(
                "SET #status = :failed, #error = :error, error_message = :message, failed_at = :failed_at,"
                " updated_at = :iso, last_failure_at = :iso ADD failures :one"
            ),
            ConditionExpression="attribute_exists(job_id) AND NOT (#status IN (:uploaded, :cleaned))",
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={
                ":failed": FAILED,
                ":error": error,
                ":message": error_message[:2000],
                ":failed_at": failed_at,
                ":iso": _now_iso(now),
                ":one": 1,
                ":uploaded": "uploaded",
                ":cleaned": "cleaned",
            },
        )
        if updated is None:
            raise JobStateError(f"job {job_id} is missing or already published")
        return updated

    def release(self, job_id: str, *, reason: str) -> None:
        """Hand an interrupted job back without counting a failure (Ctrl-C, shutdown)."""
        self._table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET lease_until = :zero, interrupted = :reason, updated_at = :iso",
            ConditionExpression="attribute_exists(job_id)",
            ExpressionAttributeValues={":zero": 0, ":reason": reason, ":iso": _now_iso(self._clock())},
        )

    def defer_upload(self, job_id: str, *, reason: str) -> dict[str, Any]:
        """YouTube said no for today: keep the video and upload it first tomorrow."""
        return self.transition(job_id, UPLOAD_DEFERRED, deferred_reason=reason[:2000])

    def deferred_uploads(self) -> list[dict[str, Any]]:
        """Jobs waiting for upload, oldest first."""
        response = self._table.query(
            IndexName=STATUS_INDEX,
            KeyConditionExpression=Key("status").eq(UPLOAD_DEFERRED),
            ScanIndexForward=True,
        )
        return [to_plain(item) for item in response.get("Items", [])]

    def claim_deferred_upload(self, job_id: str, *, owner: str) -> dict[str, Any] | None:
        """Take a deferred upload back to rendered for this run, or None if another run did."""
        return self._update_if(
            job_id,
            UpdateExpression="SET #status = :rendered, #owner = :owner, updated_at = :iso",
            ConditionExpression="#status = :deferred",
            ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
            ExpressionAttributeValues={
                ":rendered": "rendered",
                ":owner": owner,
                ":iso": _now_iso(self._clock()),
                ":deferred": UPLOAD_DEFERRED,
            },
        )

    def latest_for_comic(self, comic_key: str, *, status: str = "cleaned") -> list[dict[str, Any]]:
        """The comic's jobs in a status, newest chapter first (for continuity summaries)."""
        response = self._table.query(
            IndexName=STATUS_INDEX, KeyConditionExpression=Key("status").eq(status), ScanIndexForward=False
        )
        items = [to_plain(item) for item in response.get("Items", []) if item.get("comic_key") == comic_key]
        return sorted(items, key=lambda item: item.get("chapter_number") or 0, reverse=True)


class CounterStore:
    """One item per Pacific date; ADD is atomic, and the job's `counted` flag makes it idempotent."""

    def __init__(self, table: Any, *, ttl_days: int = 35, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._ttl_days = ttl_days
        self._clock = clock

    def count(self, date: str) -> int:
        item = self._table.get_item(Key={"date": date}, ConsistentRead=True).get("Item")
        return int(item["count"]) if item else 0

    def increment(self, date: str, *, jobs_table_name: str, job_id: str, client: Any) -> int:
        """Count the job once on `date`, even if a retry calls this twice."""
        expires = int(self._clock()) + self._ttl_days * 86400
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": jobs_table_name,
                            "Key": {"job_id": {"S": job_id}},
                            "UpdateExpression": "SET counted_on = :date",
                            "ConditionExpression": "attribute_exists(job_id) AND attribute_not_exists(counted_on)",
                            "ExpressionAttributeValues": {":date": {"S": date}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table.name,
                            "Key": {"date": {"S": date}},
                            "UpdateExpression": "ADD #count :one SET expires_at = :expires",
                            "ExpressionAttributeNames": {"#count": "count"},
                            "ExpressionAttributeValues": {":one": {"N": "1"}, ":expires": {"N": str(expires)}},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons", [])
            if not reasons or reasons[0].get("Code") != "ConditionalCheckFailed":
                raise
        return self.count(date)


def quota_view(*, date: str, count: int, daily_quota: int, max_attempts: int) -> dict[str, Any]:
    """The `$.quota` object the state machine loops on."""
    return {
        "date": date,
        "count": count,
        "daily_quota": daily_quota,
        "max_attempts": max_attempts,
        "quota_reached": count >= daily_quota,
    }
