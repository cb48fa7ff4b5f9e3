"""What a local run did, read from its execution history and job records: summary, cost, HTML.

The execution history is the single source of truth for timing: each state's Entered/
Exited events make a span, the Lambda and callback events inside it tell how long code
ran (Lambda GB-seconds) and how long a worker ran (Spot minutes). The job records add
what the history cannot know: titles, video length, fallbacks and the Claude cost.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Each state's short label in the summary, in flow order (the timeline's rows follow it).
FLOW = (
    "Initialize",
    "CheckQuota",
    "QuotaChoice",
    "StartAttempt",
    "FetchManga",
    "FetchChoice",
    "PrepareScriptInput",
    "GenerateScript",
    "GenerateTTS",
    "StartRenderer",
    "WaitForRender",
    "StartUploader",
    "WaitForUpload",
    "Cleanup",
    "IncrementCounter",
    "CheckMoreVideos",
    "HandleError",
    "QuotaReached",
    "NoMangaAvailable",
    "Done",
)
WORKER_STATES = frozenset({"WaitForRender", "WaitForUpload"})
FAILURE_EVENTS = frozenset(
    {"LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut", "LambdaFunctionStartFailed"}
)


@dataclass
class Span:
    """One state's stay: from its Entered to its Exited event (end None while it runs)."""

    state: str
    start: dt.datetime
    end: dt.datetime | None = None
    attempt: int = 0
    job_id: str | None = None
    lambda_seconds: float = 0.0
    lambda_invocations: int = 0
    worker_seconds: float = 0.0
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return ((self.end or self.start) - self.start).total_seconds()


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _job_id(document: Mapping[str, Any]) -> str | None:
    job = document.get("job")
    return str(job["job_id"]) if isinstance(job, Mapping) and job.get("job_id") else None


def _attempt(document: Mapping[str, Any]) -> int:
    loop = document.get("loop")
    return int(loop.get("attempts", 0)) if isinstance(loop, Mapping) else 0


def state_spans(events: Sequence[Mapping[str, Any]]) -> list[Span]:
    """The execution's state spans, in order, with the code and worker time inside each."""
    spans: list[Span] = []
    current: Span | None = None
    started: dt.datetime | None = None
    for event in events:
        kind = event["type"]
        when = event["timestamp"]
        if "stateEnteredEventDetails" in event:
            details = event["stateEnteredEventDetails"]
            document = _json(details.get("input"))
            current = Span(state=details["name"], start=when, attempt=_attempt(document), job_id=_job_id(document))
            spans.append(current)
        elif "stateExitedEventDetails" in event and current is not None:
            document = _json(event["stateExitedEventDetails"].get("output"))
            current.end = when
            current.output = document
            current.job_id = _job_id(document)  # StartAttempt drops the previous turn's job
            current.attempt = max(current.attempt, _attempt(document))
        elif current is None:
            continue
        elif kind in {"LambdaFunctionStarted", "TaskStarted"}:
            started = when
            current.lambda_invocations += 1
        elif kind == "TaskSubmitted" and started is not None:
            current.lambda_seconds += (when - started).total_seconds()
            started = when
        elif kind in {"LambdaFunctionSucceeded", "TaskSucceeded"} | FAILURE_EVENTS and started is not None:
            elapsed = (when - started).total_seconds()
            if current.state in WORKER_STATES:
                current.worker_seconds += elapsed
            else:
                current.lambda_seconds += elapsed
            started = None
        if kind in FAILURE_EVENTS and current is not None:
            current.failures += 1
            details = next((value for name, value in event.items() if name.endswith("EventDetails")), {})
            current.errors.append(str(details.get("error") or kind))
    return spans


@dataclass(frozen=True)
class CostModel:
    """AWS list prices (us-east-1) the estimate uses; the Spot price comes from settings."""

    spot_usd_per_hour: float = 0.12
    lambda_memory_gb: float = 1.0
    lambda_usd_per_gb_second: float = 0.0000166667
    lambda_usd_per_request: float = 0.0000002
    transition_usd: float = 0.000025  # Step Functions Standard, per state transition

    def estimate(self, spans: Iterable[Span], job_costs: Mapping[str, float] | None = None) -> dict[str, float]:
        """USD by component: lambda, step_functions, spot, and whatever the job recorded (claude...).

        A component the job recorded replaces the estimate from the history: the workers
        record their own time as `spot`, which beats the wait the history shows.
        """
        spans = list(spans)
        lambda_seconds = sum(span.lambda_seconds for span in spans)
        requests = sum(span.lambda_invocations for span in spans)
        costs = {
            "lambda": lambda_seconds * self.lambda_memory_gb * self.lambda_usd_per_gb_second
            + requests * self.lambda_usd_per_request,
            "step_functions": len(spans) * self.transition_usd,
            "spot": sum(span.worker_seconds for span in spans) / 3600 * self.spot_usd_per_hour,
        }
        costs.update({component: float(usd) for component, usd in (job_costs or {}).items()})
        return costs


@dataclass
class VideoReport:
    """One turn of the loop: the chapter it took and how it went."""

    attempt: int
    job_id: str | None
    spans: list[Span]
    job: dict[str, Any]
    video_path: Path | None
    thumbnail_path: Path | None
    costs: dict[str, float]

    @property
    def title(self) -> str:
        job = self.job
        return str(
            job.get("script_title") or " – ".join(filter(None, [job.get("comic_title"), job.get("chapter_title")]))
        ) or (self.job_id or "no chapter")

    @property
    def outcome(self) -> str:
        """The state the turn ended in: what a reader wants to know first."""
        names = [span.state for span in self.spans]
        if "HandleError" in names:
            return "failed"
        if "IncrementCounter" in names:
            return "published"
        if "NoMangaAvailable" in names:
            return "no new chapter"
        if "QuotaReached" in names:
            return "quota reached"
        return str(self.job.get("status") or "in progress")

    @property
    def duration_s(self) -> float | None:
        value = self.job.get("video_duration_s") or self.upload.get("duration_s")
        return float(value) if value else None

    @property
    def upload(self) -> dict[str, Any]:
        for span in self.spans:
            if span.state == "WaitForUpload" and isinstance(span.output.get("upload"), dict):
                return span.output["upload"]
        return {}

    @property
    def error(self) -> str:
        """Why the turn failed: HandleError's result, which also covers a failure before a job existed."""
        for span in self.spans:
            handled = span.output.get("handled") if span.state == "HandleError" else None
            if isinstance(handled, dict):
                return f"{handled.get('error')} at {handled.get('failed_at')}: {handled.get('error_message')}"
        return ""

    @property
    def fallbacks(self) -> list[str]:
        return [str(item) for item in self.job.get("fallbacks") or []]

    @property
    def total_cost(self) -> float:
        return sum(self.costs.values())

    def state_seconds(self) -> list[tuple[str, float, int]]:
        """(state, seconds, failed tries) for the states that do work (Tasks)."""
        return [
            (span.state, span.seconds, span.failures)
            for span in self.spans
            if span.lambda_invocations or span.state in WORKER_STATES
        ]


def find_output(output_dir: Path, job_id: str, suffix: str) -> Path | None:
    """The local channel's file for a job: output/<date>/<job_id><suffix>, newest date first."""
    found = sorted(Path(output_dir).glob(f"*/{job_id}{suffix}"), reverse=True)
    return found[0] if found else None


def video_reports(
    spans: Sequence[Span], jobs: Mapping[str, Mapping[str, Any]], *, output_dir: Path, cost_model: CostModel
) -> list[VideoReport]:
    """One report per loop turn that took a chapter (turn 0 is the quota check before the loop)."""
    turns: dict[int, list[Span]] = {}
    for span in spans:
        if span.attempt > 0:
            turns.setdefault(span.attempt, []).append(span)
    reports = []
    for attempt, turn in sorted(turns.items()):
        job_id = next((span.job_id for span in turn if span.job_id), None)
        job = dict(jobs.get(job_id, {})) if job_id else {}
        if job_id is None and not any(span.state == "HandleError" for span in turn):
            continue
        reports.append(
            VideoReport(
                attempt=attempt,
                job_id=job_id,
                spans=turn,
                job=job,
                video_path=find_output(output_dir, job_id, ".mp4") if job_id else None,
                thumbnail_path=find_output(output_dir, job_id, ".jpg") if job_id else None,
                costs=cost_model.estimate(turn, job.get("cost_usd") or {}),
            )
        )
    return reports


# --- formatting -------------------------------------------------------------------------
def clock(seconds: float | None) -> str:
    """12.3 s, 4 m 05 s, 1 h 02 m: durations as a person reads them."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def size(path: Path | None) -> str:
    if path is None or not path.exists():
        return "–"
    value = float(path.stat().st_size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def usd(value: float) -> str:
    return f"${value:.4f}" if value < 1 else f"${value:.2f}"


# --- the HTML report ---------------------------------------------------------------------
TIMELINE_WIDTH = 1000
ROW_HEIGHT = 18
LABEL_WIDTH = 150
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7")


def timeline_svg(spans: Sequence[Span], *, now: dt.datetime | None = None) -> str:
    """A Gantt chart of the execution: one row per state, one bar per stay, coloured by video."""
    if not spans:
        return "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'></svg>"
    start = spans[0].start
    end = max((span.end or now or span.start) for span in spans)
    total = max((end - start).total_seconds(), 0.001)
    rows = [state for state in FLOW if any(span.state == state for span in spans)]
    rows += sorted({span.state for span in spans} - set(rows))
    scale = (TIMELINE_WIDTH - LABEL_WIDTH - 40) / total
    height = ROW_HEIGHT * (len(rows) + 3)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{TIMELINE_WIDTH}' height='{height}' "
        "font-family='sans-serif' font-size='11'>"
    ]
    for index, state in enumerate(rows):
        y = index * ROW_HEIGHT
        parts.append(f"<text x='4' y='{y + 13}'>{html.escape(state)}</text>")
        parts.append(f"<line x1='{LABEL_WIDTH}' x2='{TIMELINE_WIDTH}' y1='{y + 17}' y2='{y + 17}' stroke='#eee'/>")
    for span in spans:
        y = rows.index(span.state) * ROW_HEIGHT + 2
        x = LABEL_WIDTH + (span.start - start).total_seconds() * scale
        width = max(((span.end or end) - span.start).total_seconds() * scale, 1.5)
        colour = "#e15759" if span.failures or span.state == "HandleError" else PALETTE[span.attempt % len(PALETTE)]
        tip = f"{span.state} · video {span.attempt} · {clock(span.seconds)}"
        if span.errors:
            tip += " · " + ", ".join(span.errors)
        parts.append(
            f"<rect x='{x:.1f}' y='{y}' width='{width:.1f}' height='{ROW_HEIGHT - 5}' fill='{colour}' rx='2'>"
            f"<title>{html.escape(tip)}</title></rect>"
        )
    axis_y = len(rows) * ROW_HEIGHT + 12
    for tick in range(6):
        seconds = total * tick / 5
        x = LABEL_WIDTH + seconds * scale
        parts.append(f"<text x='{x:.1f}' y='{axis_y}' text-anchor='middle' fill='#666'>{clock(seconds)}</text>")
    legend_y = axis_y + ROW_HEIGHT
    turns = sorted({span.attempt for span in spans if span.attempt > 0})
    legend = [(f"video {turn}", PALETTE[turn % len(PALETTE)]) for turn in turns] + [("failed try", "#e15759")]
    for position, (label, colour) in enumerate(legend):
        x = LABEL_WIDTH + position * 90
        parts.append(f"<rect x='{x}' y='{legend_y - 9}' width='10' height='10' fill='{colour}'/>")
        parts.append(f"<text x='{x + 14}' y='{legend_y}'>{label}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _relative(path: Path | None, base: Path) -> str:
    return os.path.relpath(path, base) if path else ""


def html_report(
    *,
    execution_name: str,
    status: str,
    started: dt.datetime,
    stopped: dt.datetime | None,
    spans: Sequence[Span],
    videos: Sequence[VideoReport],
    run_costs: Mapping[str, float],
    notes: Sequence[str],
    report_path: Path,
) -> str:
    """A self-contained page: the timeline, then one card per video with its thumbnail."""
    base = report_path.parent
    elapsed = ((stopped or started) - started).total_seconds()
    cards = []
    for video in videos:
        thumb = _relative(video.thumbnail_path, base)
        image = f"<img src='{html.escape(thumb)}' alt='thumbnail'>" if thumb else "<div class='nothumb'>none</div>"
        rows = "".join(
            f"<tr><td>{html.escape(state)}</td><td>{clock(seconds)}</td><td>{failed or ''}</td></tr>"
            for state, seconds, failed in video.state_seconds()
        )
        costs = ", ".join(f"{name} {usd(value)}" for name, value in video.costs.items() if value)
        link = _relative(video.video_path, base)
        error = video.error
        cards.append(
            "<section class='card'>"
            f"{image}<div><h2>{video.attempt}. {html.escape(video.title)}</h2>"
            f"<p><b>{html.escape(video.outcome)}</b> · length {clock(video.duration_s)} · {size(video.video_path)}"
            + (f" · <a href='{html.escape(link)}'>{html.escape(Path(link).name)}</a>" if link else "")
            + "</p>"
            + (f"<p class='err'>{html.escape(str(error))}</p>" if error else "")
            + f"<p>estimated cost {usd(video.total_cost)} ({html.escape(costs)})</p>"
            + "<p>fallbacks: "
            + (html.escape(", ".join(video.fallbacks)) or "none: every part ran for real")
            + "</p>"
            + f"<table><tr><th>state</th><th>time</th><th>failed tries</th></tr>{rows}</table></div></section>"
        )
    note_items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    total_cost = sum(run_costs.values())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>manga2video run {html.escape(execution_name)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
.card {{ display: flex; gap: 1.5em; border: 1px solid #ddd; border-radius: 6px; padding: 1em; margin: 1em 0; }}
.card img, .nothumb {{ width: 320px; height: 180px; object-fit: cover; background: #eee; }}
table {{ border-collapse: collapse; font-size: 90%; }} td, th {{ padding: 2px 10px; text-align: left; }}
.err {{ color: #b00; }} svg {{ border: 1px solid #eee; }}
</style></head><body>
<h1>manga2video local run <code>{html.escape(execution_name)}</code></h1>
<p><b>{html.escape(status)}</b> · started {started:%Y-%m-%d %H:%M:%S} UTC · took {clock(elapsed)}
 · {len(videos)} video(s) · estimated AWS cost {usd(total_cost)}</p>
<ul>{note_items}</ul>
<h2>Timeline</h2>
{timeline_svg(spans, now=stopped)}
{"".join(cards)}
</body></html>
"""
