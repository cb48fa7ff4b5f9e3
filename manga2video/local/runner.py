"""`make run`: the whole pipeline on this machine, on the very ASL file AWS runs.

The runner starts the AWS emulator (moto on loopback, Lambdas in-process through the
seam) and the fixture site, puts back the previous run's tables and bucket, starts one
execution and watches it: a live view while it runs, a summary and an HTML report when
it ends. Workers are separate OS processes started by the local launch backend; they call
back with their task token as on EC2. Ctrl-C stops the execution, the workers and the
in-flight job (released, not failed), and saves the state so the next run resumes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from manga2video.config import Settings, get_settings
from manga2video.jobs import pacific_date
from manga2video.lambda_runtime import default_services
from manga2video.local import asl, persistence
from manga2video.local.emulator import LocalAws, load_handler
from manga2video.local.report import (
    WORKER_STATES,
    CostModel,
    Span,
    VideoReport,
    clock,
    html_report,
    size,
    state_spans,
    usd,
    video_reports,
)
from manga2video.observability import SERVICE, send_logs_to
from manga2video.services import Services
from manga2video.storage import JobKeys

POLL_SECONDS = 0.5
WORKER_STOP_SECONDS = 5.0
LAMBDA_DRAIN_SECONDS = 120.0
STOP_SETTLE_SECONDS = 3.0
EXIT_INTERRUPTED = 130
EXIT_NOTHING_PUBLISHED = 3
FINISHED_TURN_STATES = frozenset({"IncrementCounter", "HandleError", "NoMangaAvailable", "QuotaReached"})


@dataclass
class RunOptions:
    """What `scripts/run_local.py` parses; tests build one directly."""

    quota: int | None = None  # videos this run should publish (None: settings.daily_quota)
    source: str | None = None  # a real source URL instead of the fixture site
    keep: bool = False  # copy each job's S3 working files to {state}/kept/<job_id>/ before Cleanup
    reset: bool = False  # forget the state folder first
    asl_overrides: dict[str, Any] = field(default_factory=dict)  # placeholder values (tests: short heartbeats)
    retry_sleep_scale: float = 1.0  # 1.0 sleeps AWS's real Retry intervals
    live: bool | None = None  # rich live view; None: only on a terminal


class InFlightLambdas:
    """Counts Lambda invocations in progress, so Ctrl-C can let them finish before saving."""

    def __init__(self) -> None:
        self._running: dict[str, int] = {}
        self._changed = threading.Condition()

    def wrap(self, folder: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def tracked(event: Any, context: Any) -> Any:
            with self._changed:
                self._running[folder] = self._running.get(folder, 0) + 1
            try:
                return handler(event, context)
            finally:
                with self._changed:
                    self._running[folder] -= 1
                    self._changed.notify_all()

        return tracked

    def names(self) -> list[str]:
        with self._changed:
            return sorted(name for name, count in self._running.items() if count)

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not any(self._running.values()), timeout=timeout)


def lazy_handler(folder: str) -> Callable[[Any, Any], Any]:
    """lambdas/<folder>/handler.py, imported on its first invocation as Lambda does on a cold start."""
    loaded: list[Callable[[Any, Any], Any]] = []

    def handler(event: Any, context: Any) -> Any:
        if not loaded:
            loaded.append(load_handler(folder))
        return loaded[0](event, context)

    return handler


def keep_working_files(storage: Any, job_id: str, target: Path) -> int:
    """Copy the job's S3 working files (pages, script, audio, segments, video) to a folder."""
    copied = 0
    prefix = JobKeys(job_id).prefix
    for key, _size in storage.list_keys(prefix):
        storage.download_file(key, target / key.removeprefix(prefix))
        copied += 1
    return copied


class LocalRun:
    """One `make run`: set up, execute, watch, report, save."""

    def __init__(self, options: RunOptions, console: Console | None = None) -> None:
        self.options = options
        self.console = console or Console()
        self.interrupted = threading.Event()
        self.inflight = InFlightLambdas()
        self.notes: list[str] = []
        self.settings: Settings = get_settings()
        self.aws: LocalAws | None = None
        self.site: Any = None
        self.services: Services | None = None
        self.execution_arn = ""
        self.execution_name = ""
        self.started = dt.datetime.now(dt.UTC)
        self._saved_videos = 0

    # --- paths -----------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return Path(self.settings.local_state_dir)

    @property
    def workers_dir(self) -> Path:
        return self.state_dir / "workers"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / f"{self.execution_name}.log"

    # --- set-up ----------------------------------------------------------------------
    def prepare_environment(self) -> None:
        """Settings come from the environment: point them at the local parts before anything reads them."""
        settings = get_settings()
        if self.options.reset:
            shutil.rmtree(settings.local_state_dir, ignore_errors=True)
        os.environ["M2V_LAUNCH_BACKEND"] = "local"
        # CloudWatch metrics (EMF lines on stdout) mean nothing here and would break the live view
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        for name, value in (("M2V_LOCAL_STATE_DIR", settings.local_state_dir), ("M2V_OUTPUT_DIR", settings.output_dir)):
            os.environ[name] = str(Path(value).resolve())  # workers may run from another folder
        if self.options.source:
            os.environ["M2V_SOURCE_BASE_URL"] = self.options.source
            self.notes.append(f"source: {self.options.source} (given with --source)")
        else:
            from manga2video.local.fixture_site import COMICS, FixtureSite

            self.site = FixtureSite()
            self.site.start()
            os.environ["M2V_SOURCE_BASE_URL"] = self.site.base_url
            self.notes.append(f"source: the fixture site at {self.site.base_url} (offline; --source for a real one)")
            if not os.environ.get("M2V_FOLLOW_LIST"):
                # Followed comics are taken from their oldest unprocessed chapter on, so each run
                # goes on where the last one stopped (the listing alone offers only the newest).
                os.environ["M2V_FOLLOW_LIST"] = ",".join(comic.path for comic in COMICS)
                self.notes.append("follow list: the fixture site's comics, chapter by chapter (M2V_FOLLOW_LIST)")
        get_settings.cache_clear()
        default_services.cache_clear()
        self.settings = get_settings()
        self.execution_name = f"local-{self.started:%Y%m%d-%H%M%S}"
        (self.state_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.workers_dir.mkdir(parents=True, exist_ok=True)
        stop_workers(self.workers_dir)  # an earlier run's, left behind by a hard kill
        self.route_logs()

    def route_logs(self) -> None:
        """JSON lines to the run's log file; the terminal belongs to the live view."""
        send_logs_to(str(self.log_path))
        file_handler = logging.FileHandler(self.log_path, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.addHandler(file_handler)
        root.setLevel(logging.WARNING)
        logging.captureWarnings(True)
        logging.getLogger(SERVICE).propagate = False  # its JSON lines are in the file already
        werkzeug = logging.getLogger("werkzeug")
        werkzeug.handlers[:] = [logging.NullHandler()]
        werkzeug.propagate = False
        werkzeug.setLevel(logging.CRITICAL)

    def start_aws(self) -> LocalAws:
        settings = self.settings
        aws = LocalAws.from_settings(settings).start()
        self.aws = aws
        aws.retry_sleeps.scale = self.options.retry_sleep_scale
        aws.create_storage()
        items, objects = persistence.restore(self.state_dir, **self._persistence_targets())
        if items or objects:
            self.notes.append(f"state: {items} records and {objects} S3 objects restored from {self.state_dir}")
        aws.create_state_machine(aws.render_definition(self.options.asl_overrides))
        if self.options.asl_overrides:
            self.notes.append(f"ASL numbers overridden (not AWS's): {self.options.asl_overrides}")
        if self.options.retry_sleep_scale != 1.0:
            self.notes.append(f"Retry intervals sleep x{self.options.retry_sleep_scale} of the ASL's (AWS's) numbers")
        for folder in asl.function_folders(asl.read_raw()):
            handler = lazy_handler(folder)
            if folder == "cleanup" and self.options.keep:
                handler = self._keeping(handler)
            aws.dispatcher.overrides[folder] = self.inflight.wrap(folder, handler)
        self.services = Services(settings)
        return aws

    def _keeping(self, cleanup: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        """--keep: Cleanup is a state of the flow, so the copy is made just before it runs."""

        def keep_then_clean(event: Any, context: Any) -> Any:
            job_id = str(event["job_id"])
            keep_working_files(self.require_services().storage, job_id, self.state_dir / "kept" / job_id)
            return cleanup(event, context)

        return keep_then_clean

    def require_services(self) -> Services:
        if self.services is None:
            raise RuntimeError("the emulator is not started")
        return self.services

    def _persistence_targets(self) -> dict[str, Any]:
        aws = self.aws
        if aws is None:
            raise RuntimeError("the emulator is not started")
        return {
            "dynamodb": aws.client("dynamodb"),
            "s3": aws.client("s3"),
            "tables": [self.settings.jobs_table, self.settings.counters_table],
            "bucket": self.settings.media_bucket,
        }

    def execution_input(self) -> dict[str, Any]:
        """{"daily_quota": today's count + N}: --quota N means N more videos in this run.

        The counter persists between runs and counts per Pacific date, so a literal quota
        of N would make a second run on the same day do nothing.
        """
        wanted = self.wanted
        today = pacific_date(timezone=self.settings.quota_timezone)
        counted = self.require_services().counters.count(today)
        if counted:
            self.notes.append(f"quota: {counted} video(s) already counted on {today}; this run aims for {wanted} more")
        return {"daily_quota": counted + wanted}

    @property
    def wanted(self) -> int:
        """Videos this run should publish."""
        return self.options.quota or self.settings.daily_quota

    # --- the run ------------------------------------------------------------------------
    def run(self) -> int:
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            self.prepare_environment()
            self.console.print(f"[dim]starting the AWS emulator; state in {self.state_dir}, logs in {self.log_path}[/]")
            aws = self.start_aws()
            payload = self.execution_input()
            if self.interrupted.is_set():
                self.console.print("Ctrl-C before the execution started: nothing to stop")
                return EXIT_INTERRUPTED
            self.execution_arn = aws.start_execution(payload, name=self.execution_name)
            described = self.watch()
            if self.interrupted.is_set():
                described = self.stop()
            return self.finish(described)
        finally:
            signal.signal(signal.SIGINT, previous)
            self.shutdown()

    def _on_sigint(self, _signum: int, _frame: Any) -> None:
        """First Ctrl-C: stop cleanly. A second one: the default (immediate) interrupt."""
        self.interrupted.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def watch(self) -> dict[str, Any]:
        """Poll the execution until it ends or Ctrl-C, showing progress."""
        sfn = self.require_services().client("stepfunctions")
        live_wanted = self.options.live if self.options.live is not None else self.console.is_terminal
        view = LiveView(self)
        live = None
        if live_wanted:
            live = Live(view.render([]), console=self.console, refresh_per_second=4, transient=True)
        with live or contextlib.nullcontext():
            while True:
                described = sfn.describe_execution(executionArn=self.execution_arn)
                spans = state_spans(self._history())
                if live is not None:
                    live.update(view.render(spans))
                else:
                    view.print_changes(spans)
                self._save_after_each_video(spans)
                if described["status"] != "RUNNING" or self.interrupted.is_set():
                    return described
                time.sleep(POLL_SECONDS)

    def _history(self) -> list[dict[str, Any]]:
        return self.aws.history(self.execution_arn) if self.aws else []

    def _save_after_each_video(self, spans: list[Span]) -> None:
        """A published video is saved at once, so even a hard kill loses at most the one in flight."""
        done = sum(1 for span in spans if span.state == "IncrementCounter" and span.end)
        if done > self._saved_videos:
            self._saved_videos = done
            self.save_state()

    def stop(self) -> dict[str, Any]:
        """Ctrl-C: stop the execution, the workers and the Lambdas, release the in-flight job."""
        self.console.print("[yellow]Ctrl-C: stopping the execution and its workers…[/]")
        sfn = self.require_services().client("stepfunctions")
        sfn.stop_execution(executionArn=self.execution_arn, error="Interrupted", cause="Ctrl-C in the local run")
        stopped = stop_workers(self.workers_dir)
        if stopped:
            self.console.print(f"stopped worker process(es) {', '.join(map(str, stopped))}")
        if not self.inflight.wait_idle(LAMBDA_DRAIN_SECONDS):
            self.console.print(f"[red]Lambda(s) still running: {', '.join(self.inflight.names())}[/]")
        job_id = in_flight_job(state_spans(self._history()))
        jobs = self.require_services().jobs
        if job_id:
            job = jobs.find(job_id)
            if job and job.get("status") not in {"cleaned", "failed"}:
                jobs.release(job_id, reason=f"interrupted by Ctrl-C during {self.execution_name}")
                self.notes.append(f"job {job_id} released at status {job['status']}: the next run resumes it")
        return self._stopped_execution(sfn)

    def _stopped_execution(self, sfn: Any) -> dict[str, Any]:
        """The execution as StopExecution left it.

        moto's interpreter notices the stop only between states: while a callback task
        waits for a token it stays RUNNING (until the heartbeat times out), though it will
        run no further state. The runner then reports it as AWS would: ABORTED.
        """
        deadline = time.monotonic() + STOP_SETTLE_SECONDS
        while True:
            described = sfn.describe_execution(executionArn=self.execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                self.notes.append("the emulator still showed the stopped execution RUNNING: reported as ABORTED")
                return {**described, "status": "ABORTED", "stopDate": dt.datetime.now(dt.UTC)}
            time.sleep(POLL_SECONDS)

    def save_state(self) -> None:
        persistence.save(self.state_dir, **self._persistence_targets())

    # --- the end -------------------------------------------------------------------------
    def finish(self, described: Mapping[str, Any]) -> int:
        events = self._history()
        spans = state_spans(events)
        jobs = self._jobs([span.job_id for span in spans if span.job_id])
        cost_model = CostModel(spot_usd_per_hour=self.settings.spot_usd_per_hour)
        output_dir = Path(self.settings.output_dir)
        videos = video_reports(spans, jobs, output_dir=output_dir, cost_model=cost_model)
        run_costs = cost_model.estimate(spans, recorded_costs(jobs.values()))
        status = str(described["status"])
        stopped = described.get("stopDate") or dt.datetime.now(dt.UTC)
        report_dir = output_dir / pacific_date(timezone=self.settings.quota_timezone)
        report_dir.mkdir(parents=True, exist_ok=True)
        report_path = report_dir / "report.html"
        report_path.write_text(
            html_report(
                execution_name=self.execution_name,
                status=status,
                started=described.get("startDate") or self.started,
                stopped=stopped,
                spans=spans,
                videos=videos,
                run_costs=run_costs,
                notes=self.notes,
                report_path=report_path,
            ),
            encoding="utf-8",
        )
        self.save_state()
        self.write_last_run(status, videos, run_costs, report_path)
        print_summary(self.console, status=status, videos=videos, run_costs=run_costs, notes=self.notes)
        self.console.print(f"\nvideos and report: [bold]{report_dir}/[/]  (open {report_path})")
        self.console.print(f"logs: {self.log_path}   state: {self.state_dir}/ (make reset forgets it)")
        if self.options.keep:
            self.console.print(f"working files kept in {self.state_dir / 'kept'}/")
        return exit_code(status, videos, interrupted=self.interrupted.is_set())

    def _jobs(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        jobs = self.require_services().jobs
        return {job_id: job for job_id in dict.fromkeys(job_ids) if (job := jobs.find(job_id))}

    def write_last_run(self, status: str, videos: list[VideoReport], costs: Mapping[str, float], report: Path) -> None:
        """The same facts as the summary, for scripts and tests: {state}/last-run.json."""
        today = pacific_date(timezone=self.settings.quota_timezone)
        document = {
            "execution_name": self.execution_name,
            "status": status,
            "interrupted": self.interrupted.is_set(),
            "report": str(report),
            "counter": {"date": today, "count": self.require_services().counters.count(today)},
            "estimated_cost_usd": costs,
            "videos": [
                {
                    "attempt": video.attempt,
                    "job_id": video.job_id,
                    "title": video.title,
                    "outcome": video.outcome,
                    "duration_s": video.duration_s,
                    "video": str(video.video_path) if video.video_path else None,
                    "thumbnail": str(video.thumbnail_path) if video.thumbnail_path else None,
                    "upload": video.upload,
                    "fallbacks": video.fallbacks,
                    "error": video.error,
                    "states": [
                        {"state": state, "seconds": seconds, "failed_tries": failed}
                        for state, seconds, failed in video.state_seconds()
                    ],
                    "estimated_cost_usd": video.costs,
                }
                for video in videos
            ],
        }
        (self.state_dir / "last-run.json").write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")

    def shutdown(self) -> None:
        stop_workers(self.workers_dir)
        if self.site is not None:
            self.site.stop()
            self.site = None
        if self.aws is not None:
            self.aws.stop()
            self.aws = None


def in_flight_job(spans: list[Span]) -> str | None:
    """The job of the last loop turn if that turn has not finished (counted or failed)."""
    if not spans:
        return None
    last_turn = max(span.attempt for span in spans)
    turn = [span for span in spans if span.attempt == last_turn]
    if any(span.state in FINISHED_TURN_STATES and span.end for span in turn):
        return None
    return next((span.job_id for span in reversed(turn) if span.job_id), None)


def recorded_costs(jobs: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The jobs' own cost breakdowns (Claude tokens...), added up by component."""
    totals: dict[str, float] = {}
    for job in jobs:
        for component, value in (job.get("cost_usd") or {}).items():
            totals[component] = totals.get(component, 0.0) + float(value)
    return totals


def worker_pids(workers_dir: Path) -> list[int]:
    """The pids in the files the local launch backend writes: {workers}/<name>.pid."""
    found = []
    for path in sorted(workers_dir.glob("*.pid")):
        try:
            found.append(int(path.read_text().split()[0]))
        except (ValueError, IndexError, OSError):
            continue
    return found


def _alive(pid: int) -> bool:
    """True only for a live process that is one of our workers (a stale pid may be reused)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"workers." in command or b"workers/" in command


def forget_stale_workers(workers_dir: Path) -> None:
    """Pid files whose processes are stopped: a reused pid must never be taken for a worker."""
    for path in workers_dir.glob("*.pid"):
        path.unlink(missing_ok=True)


def _signal_group(pid: int, signum: int) -> None:
    """A local worker leads its own process group (its ffmpeg children are in it too)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def stop_workers(workers_dir: Path) -> list[int]:
    """SIGTERM each live worker's group, then SIGKILL what is left; returns the pids stopped."""
    stopped = [pid for pid in worker_pids(workers_dir) if _alive(pid)]
    for pid in stopped:
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + WORKER_STOP_SECONDS
    while any(_alive(pid) for pid in stopped) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in stopped:
        _signal_group(pid, signal.SIGKILL)
    forget_stale_workers(workers_dir)
    return stopped


def exit_code(status: str, videos: list[VideoReport], *, interrupted: bool) -> int:
    """0 when the execution succeeded and did not only fail; see the README, "Running it on one machine"."""
    if interrupted:
        return EXIT_INTERRUPTED
    if status != "SUCCEEDED":
        return 1
    outcomes = [video.outcome for video in videos]
    if "failed" in outcomes and "published" not in outcomes:
        return EXIT_NOTHING_PUBLISHED
    return 0


# --- the live view -----------------------------------------------------------------------
class LiveView:
    """What the terminal shows while the execution runs, rebuilt from the history each poll."""

    def __init__(self, run: LocalRun) -> None:
        self.run = run
        self._printed = 0
        self._progress_cache: tuple[float, str] = (0.0, "")

    def render(self, spans: list[Span]) -> Group:
        now = dt.datetime.now(dt.UTC)
        elapsed = (now - self.run.started).total_seconds()
        header = Text.assemble(
            ("manga2video", "bold magenta"),
            f" · local run {self.run.execution_name} · elapsed {clock(elapsed)}",
        )
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim")
        table.add_column()
        current = spans[-1] if spans else None
        published = sum(1 for span in spans if span.state == "IncrementCounter" and span.end)
        failed = sum(1 for span in spans if span.state == "HandleError")
        turn = current.attempt if current else 0
        wanted = self.run.wanted
        table.add_row(
            "video",
            f"{min(published + 1, wanted)} of {wanted} · attempt {max(turn, 1)}"
            f" · {published} published, {failed} failed",
        )
        if current is not None:
            job_id = next((span.job_id for span in reversed(spans) if span.job_id and span.attempt == turn), None)
            running = clock((now - current.start).total_seconds()) if current.end is None else "done"
            retries = f" · [red]{current.failures} failed tr{'y' if current.failures == 1 else 'ies'}[/]"
            table.add_row("state", f"[bold]{current.state}[/] ({running}){retries if current.failures else ''}")
            if job_id:
                table.add_row("job", job_id)
                progress = self.worker_progress(job_id, current)
                if progress:
                    table.add_row("worker", progress)
        lambdas = self.run.inflight.names()
        if lambdas:
            table.add_row("lambda", ", ".join(lambdas) + " (in-process)")
        steps = Table(show_header=True, header_style="dim", box=None, padding=(0, 1))
        for column in ("state", "time", ""):
            steps.add_column(column)
        for span in [span for span in spans if span.attempt == turn and span.attempt > 0][-8:]:
            mark = "[green]✓[/]" if span.end and not span.failures else ("…" if not span.end else "[yellow]↻[/]")
            seconds = span.seconds if span.end else (now - span.start).total_seconds()
            steps.add_row(span.state, clock(seconds), mark)
        hint = Text("Ctrl-C stops cleanly and the next run resumes", style="dim")
        return Group(header, table, steps, hint)

    def worker_progress(self, job_id: str, current: Span) -> str:
        """Job status, render checkpoints and the worker log's last line; S3 is read once a second."""
        stamp, cached = self._progress_cache
        if time.monotonic() - stamp < 1.0:
            return cached
        services = self.run.require_services()
        parts = []
        job = services.jobs.find(job_id) or {}
        if job.get("status"):
            parts.append(f"job {job['status']}")
        worker = job.get("current_worker") or {}
        if current.state in WORKER_STATES and worker.get("pid"):
            parts.append(f"{worker.get('kind', 'worker')} pid {worker['pid']}")
        if current.state in WORKER_STATES or job.get("status") == "voiced":
            parts.append(segment_progress(services.storage, job_id))
        line = last_worker_line(self.run.workers_dir, job_id)
        if line:
            parts.append(f"“{line[:90]}”")
        text = " · ".join(part for part in parts if part)
        self._progress_cache = (time.monotonic(), text)
        return text

    def print_changes(self, spans: list[Span]) -> None:
        """Without a terminal: one plain line per state entered."""
        for span in spans[self._printed :]:
            self.run.console.print(f"{span.start:%H:%M:%S} video {span.attempt} {span.state}", highlight=False)
        self._printed = len(spans)


def segment_progress(storage: Any, job_id: str) -> str:
    keys = JobKeys(job_id)
    done = len(storage.list_keys(f"{keys.prefix}render/segments/"))
    total = None
    if storage.exists(keys.render_manifest):
        manifest = storage.get_json(keys.render_manifest)
        segments = manifest.get("segments") if isinstance(manifest, Mapping) else None
        total = len(segments) if isinstance(segments, list) else None
    if not done and total is None:
        return ""
    return f"segments {done}/{total if total is not None else '?'}"


def last_worker_line(workers_dir: Path, job_id: str) -> str:
    """The job's newest worker log's last line (its message, if it is a JSON log line)."""
    logs = sorted(workers_dir.glob(f"{job_id}-*.log"), key=lambda path: path.stat().st_mtime)
    if not logs:
        return ""
    with logs[-1].open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(handle.tell() - 4096, 0))
        lines = handle.read().decode("utf-8", "replace").strip().splitlines()
    if not lines:
        return ""
    try:
        parsed = json.loads(lines[-1])
    except ValueError:
        return lines[-1].strip()
    return str(parsed.get("message", lines[-1])) if isinstance(parsed, dict) else lines[-1].strip()


# --- the summary ------------------------------------------------------------------------
def short_fallback(note: str) -> str:
    """'upload: local channel output/... (no YouTube token...)' -> 'upload: local channel'."""
    return " ".join(note.split(" (")[0].split()[:3])


def print_summary(
    console: Console, *, status: str, videos: list[VideoReport], run_costs: Mapping[str, float], notes: list[str]
) -> None:
    """The end of the run, readable at a glance: one row per video, then what each state took."""
    colour = "green" if status == "SUCCEEDED" else "red"
    console.rule(f"[bold {colour}]execution {status}[/]")
    table = Table(show_lines=False)
    for column in ("#", "title", "result", "length", "size", "est. cost", "fallbacks"):
        table.add_column(column, overflow="fold")
    for video in videos:
        result_colour = {"published": "green", "failed": "red"}.get(video.outcome, "yellow")
        table.add_row(
            str(video.attempt),
            video.title,
            f"[{result_colour}]{video.outcome}[/]",
            clock(video.duration_s),
            size(video.video_path),
            usd(video.total_cost),
            "\n".join(short_fallback(fallback) for fallback in video.fallbacks) or "[green]none (all real)[/]",
        )
    console.print(table)
    for video in videos:
        steps = " · ".join(
            f"{state} {clock(seconds)}" + (f" [red](+{failed} failed)[/]" if failed else "")
            for state, seconds, failed in video.state_seconds()
        )
        console.print(f"[dim]{video.attempt}.[/] {video.video_path or 'no video'}: {steps}", highlight=False)
        if video.error:
            console.print(f"   [red]{video.error}[/]", highlight=False)
    cost_parts = ", ".join(f"{name} {usd(value)}" for name, value in run_costs.items() if value)
    console.print(f"estimated AWS cost of this run: [bold]{usd(sum(run_costs.values()))}[/] ({cost_parts})")
    for note in notes:
        console.print(f"[dim]· {note}[/]")
