"""The renderer worker with real ffmpeg over moto: output checks, checkpoints, Spot, bad pages."""

from __future__ import annotations

import dataclasses
import http.server
import io
import json
import math
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
import types
import uuid
import wave
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PIL import Image, ImageDraw

from manga2video.errors import RenderError
from manga2video.jobs import Chapter
from manga2video.local.emulator import function_arn
from manga2video.render import render_job, start_renderer
from manga2video.render.ffmpeg import FfmpegRunner, check_video
from manga2video.render.manifest import strip_view_width
from manga2video.services import Services
from manga2video.storage import JobKeys
from workers.callback import run_task
from workers.renderer.main import run_renderer

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_RATE = 48000
SMALL = {"video_width": 640, "video_height": 360}


# --- inputs -------------------------------------------------------------------------------
def page_with_circle(width: int, height: int, *, radius: int, centre_y: int | None = None) -> Image.Image:
    """A white page with one black disc: its shape in a frame shows any distortion."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    cx, cy = width // 2, height // 2 if centre_y is None else centre_y
    draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill="black")
    draw.rectangle([10, 10, width - 10, height - 10], outline=(90, 90, 90), width=3)
    return image


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def tone_wav(seconds: float, fps: int = 30) -> bytes:
    """A 440 Hz tone, padded to whole video frames as GenerateTTS pads its WAVs."""
    samples = round(seconds * fps) * SAMPLE_RATE // fps
    data = struct.pack(
        f"<{samples}h", *(int(8000 * math.sin(2 * math.pi * 440 * n / SAMPLE_RATE)) for n in range(samples))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(data)
    return buffer.getvalue()


def voiced_job(
    services: Services, pages: Sequence[Image.Image | bytes], scenes: Sequence[tuple[list[int], float]]
) -> str:
    """A job as GenerateTTS leaves it: pages, scene WAVs and narration.json in S3, status voiced."""
    chapter = Chapter(
        chapter_key=f"truyen-thu/{uuid.uuid4().hex[:8]}",
        comic_key="truyen-thu",
        comic_title="Truyện Thử: Hôn Nhân",
        chapter_title="Chương 20",
        chapter_url="http://127.0.0.1/truyen-thu/chap-20",
    )
    job_id = services.jobs.claim_chapter(chapter, owner="test", lease_seconds=3600, max_failures=3)["job_id"]
    keys = JobKeys(job_id)
    records = []
    for index, page in enumerate(pages, start=1):
        body = page if isinstance(page, bytes) else jpeg(page)
        size = (640, 960) if isinstance(page, bytes) else page.size
        services.storage.put_bytes(keys.page(index), body, "image/jpeg")
        records.append({"index": index, "key": keys.page(index), "width": size[0], "height": size[1]})
    services.jobs.transition(job_id, "fetched", pages=records, page_count=len(records))
    services.jobs.transition(job_id, "scripted")
    narration_scenes = []
    for number, (scene_pages, seconds) in enumerate(scenes, start=1):
        services.storage.put_bytes(keys.audio(number), tone_wav(seconds), "audio/wav")
        narration_scenes.append(
            {
                "index": number,
                "pages": scene_pages,
                "audio_key": keys.audio(number),
                "duration_s": round(seconds * 30) / 30,
                "words": [],
                # gone before the test measures frames
                "cues": [{"start_s": 0.0, "end_s": seconds / 4, "text": f"Cảnh {number}"}],
            }
        )
    services.storage.put_json(
        keys.narration,
        {
            "engine": "silence",
            "sample_rate": SAMPLE_RATE,
            "fps": 30,
            "scenes": narration_scenes,
            "total_duration_s": sum(scene["duration_s"] for scene in narration_scenes),
        },
    )
    services.jobs.transition(job_id, "voiced")
    return job_id


def small(services: Services, **overrides: Any) -> Services:
    return Services(dataclasses.replace(services.settings, **{**SMALL, **overrides}))


# --- measuring frames ------------------------------------------------------------------------
def frame_at(video: Path, seconds: float, out: Path) -> Image.Image:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", f"{seconds:.3f}", "-i", str(video), "-frames:v", "1", str(out)],
        check=True,
    )
    return Image.open(out).convert("L")


def disc_box(frame: Image.Image, region: tuple[int, int, int, int]) -> tuple[int, int]:
    """Width and height of the dark disc inside `region` of a frame."""
    mask = frame.crop(region).point(lambda value: 255 if value < 70 else 0)
    box = mask.getbbox()
    assert box is not None, "no disc in the frame"
    return box[2] - box[0], box[3] - box[1]


# --- in-process renders ------------------------------------------------------------------------
def test_full_hd_video_keeps_every_page_undistorted(services: Services, tmp_path: Path):
    page = page_with_circle(800, 1200, radius=200)
    strip = page_with_circle(600, 4200, radius=150, centre_y=2100)
    job_id = voiced_job(services, [page, strip], [([1], 1.0), ([2], 2.0)])
    plan = start_renderer({"job_id": job_id}, services)
    manifest = services.storage.get_json(plan["manifest_key"])
    assert [shot["motion"] for segment in manifest["segments"] for shot in segment["shots"]] == ["zoom", "zoom", "pan"]

    output = render_job(job_id, services, FfmpegRunner(), tmp_path / "work")

    video = tmp_path / "video.mp4"
    services.storage.download_file(output["video_key"], video)
    expected = manifest["frames"] / 30
    measured = check_video(video, width=1920, height=1080, fps=30, expected_s=expected)
    assert measured == pytest.approx(expected, abs=1 / 30)
    assert output["segments_rendered"] == 3 and output["segments_reused"] == 0
    title_s = manifest["segments"][0]["frames"] / 30
    # zoom: the page fills the frame height, so the disc is about 400/1200 of it, and round
    inside_page = (620, 0, 1300, 1080)
    zoom_w, zoom_h = disc_box(frame_at(video, title_s + 0.5, tmp_path / "zoom.png"), inside_page)
    assert zoom_w == pytest.approx(zoom_h, rel=0.04)
    assert 1080 * 400 / 1200 <= zoom_h <= 1080 * 400 / 1200 * 1.1
    # strip: halfway down the pan the disc is at the frame's centre, at the strip's own scale
    view_w = strip_view_width(1920)
    inside_view = (520, 0, 1400, 1080)
    strip_w, strip_h = disc_box(frame_at(video, title_s + 1.0 + 1.0, tmp_path / "strip.png"), inside_view)
    assert strip_w == pytest.approx(strip_h, rel=0.04)
    assert strip_w == pytest.approx(300 * view_w / 600, rel=0.04)
    thumbnail = tmp_path / "thumbnail.jpg"
    services.storage.download_file(output["thumbnail_key"], thumbnail)
    assert Image.open(thumbnail).size == (1280, 720)


def test_corrupt_page_is_named(services: Services, tmp_path: Path):
    broken = jpeg(page_with_circle(640, 960, radius=100))[:3000]  # a truncated download
    job_id = voiced_job(services, [page_with_circle(640, 960, radius=100), broken], [([1], 0.5), ([2], 0.5)])
    start_renderer({"job_id": job_id}, small(services))
    with pytest.raises(RenderError, match=r"page 2 \(jobs/.+/pages/002\.jpg\)"):
        render_job(job_id, services, FfmpegRunner(), tmp_path)
    assert services.storage.list_keys(JobKeys(job_id).prefix + "render/segments/") == []


class RecordingSfn:
    """Step Functions as the callback sees it, recording what the worker sends and when."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def _record(self, name: str) -> None:
        self.calls.append((name, time.monotonic()))

    def send_task_heartbeat(self, **_: Any) -> None:
        self._record("heartbeat")

    def send_task_success(self, **_: Any) -> None:
        self._record("success")

    def send_task_failure(self, **_: Any) -> None:
        self._record("failure")


def test_heartbeats_go_out_while_rendering_and_stop_after_success(services: Services):
    job_id = voiced_job(services, [page_with_circle(640, 960, radius=100)], [([1], 1.0)])
    start_renderer({"job_id": job_id}, small(services))
    sfn = RecordingSfn()
    worker_services = small(services, worker_heartbeat_seconds=0.05)

    assert run_renderer(job_id, "token", worker_services, sfn=sfn) == 0

    names = [name for name, _ in sfn.calls]
    assert names.count("success") == 1 and "failure" not in names
    assert names.count("heartbeat") >= 1 and names[-1] == "success"
    sent_before = len(sfn.calls)
    time.sleep(0.3)  # six heartbeat intervals: none may follow the result
    assert len(sfn.calls) == sent_before
    job = services.jobs.get(job_id)
    assert job["status"] == "rendered" and job["video_key"] == JobKeys(job_id).video
    # the worker's time, as Spot cost: under a minute at the renderer's hourly price
    assert 0 < float(job["cost_usd"]["spot"]) < services.settings.spot_usd_per_hour / 60


def test_a_failed_render_still_records_its_spot_time(services: Services):
    job_id = voiced_job(services, [jpeg(page_with_circle(640, 960, radius=100))[:3000]], [([1], 1.0)])
    start_renderer({"job_id": job_id}, small(services))
    sfn = RecordingSfn()

    assert run_renderer(job_id, "token", small(services), sfn=sfn) == 1

    assert [name for name, _ in sfn.calls if name != "heartbeat"] == ["failure"]
    assert float(services.jobs.get(job_id)["cost_usd"]["spot"]) > 0


def test_a_worker_whose_time_cannot_be_recorded_still_succeeds():
    sfn = RecordingSfn()

    def table_gone(seconds: float) -> None:
        raise RuntimeError(f"DynamoDB unreachable after {seconds:.1f} s")

    code = run_task(
        state="WaitForRender", job_id="job-1", token="token", sfn=sfn, heartbeat_seconds=60,
        work=lambda callback: {"video_key": "k"}, record_seconds=table_gone,
    )  # fmt: skip

    assert code == 0 and [name for name, _ in sfn.calls] == ["success"]


# --- the worker as its own process ----------------------------------------------------------------
@pytest.fixture
def task(aws: Any) -> Iterator[types.SimpleNamespace]:
    """A one-state machine whose callback task waits for a worker, as WaitForRender does."""
    tokens: queue.Queue[str] = queue.Queue()
    aws.dispatcher.overrides["render_task"] = lambda event, context: tokens.put(event["task_token"]) or {}
    definition = {
        "StartAt": "WaitForRender",
        "States": {
            "WaitForRender": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": function_arn(aws.region, "render_task"),
                    "Payload": {"task_token.$": "$$.Task.Token"},
                },
                "HeartbeatSeconds": 600,  # without it moto refuses heartbeats as InvalidToken
                "TimeoutSeconds": 3600,
                "End": True,
            }
        },
    }
    aws.create_state_machine(json.dumps(definition), name="render-only")
    execution = aws.start_execution({}, name=f"render-{uuid.uuid4().hex[:8]}")
    yield types.SimpleNamespace(token=tokens.get(timeout=30), execution=execution)


def start_worker(job_id: str, token: str, extra_env: dict[str, str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **SMALL_ENV, **extra_env}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "workers.renderer.main", "--job-id", job_id, "--task-token", token],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


SMALL_ENV = {"M2V_RENDER_PARALLEL_SEGMENTS": "1", "M2V_WORKER_HEARTBEAT_SECONDS": "1"}


def wait_for_checkpoints(services: Services, job_id: str, at_least: int, worker: subprocess.Popen) -> int:
    prefix = JobKeys(job_id).prefix + "render/segments/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = len(services.storage.list_keys(prefix))
        if found >= at_least:
            return found
        assert worker.poll() is None, "the worker ended before its first checkpoint"
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared")


def renders_of(job_id: str) -> list[str]:
    """Every live ffmpeg process working for this job (their paths carry the job id)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command and command[0].endswith(b"ffmpeg") and any(job_id.encode() in part for part in command):
            found.append(entry.name)
    return found


def seven_scene_job(services: Services) -> str:
    pages = [page_with_circle(640, 960, radius=60 + 10 * index) for index in range(6)]
    return voiced_job(services, pages, [([index + 1], 1.2) for index in range(6)])


def test_killed_worker_resumes_from_its_checkpoints(
    services: Services, task: types.SimpleNamespace, tmp_path: Path, aws: Any
):
    job_id = seven_scene_job(services)
    plan = start_renderer({"job_id": job_id}, small(services))
    first = start_worker(job_id, task.token, {}, tmp_path / "worker.log")
    wait_for_checkpoints(services, job_id, 2, first)
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its ffmpeg, as an instance's end would
    first.wait(timeout=10)
    kept = len(services.storage.list_keys(JobKeys(job_id).prefix + "render/segments/"))
    assert 2 <= kept < plan["segments"], "the kill must land mid-render"

    second = start_worker(job_id, task.token, {}, tmp_path / "worker.log")
    assert second.wait(timeout=180) == 0, (tmp_path / "worker.log").read_text()[-2000:]
    described = aws.wait(task.execution, timeout=30)
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["segments_reused"] == kept
    assert output["segments_rendered"] == plan["segments"] - kept
    video = tmp_path / "video.mp4"
    services.storage.download_file(output["video_key"], video)
    check_video(video, width=640, height=360, fps=30, expected_s=plan["duration_s"])
    assert services.jobs.get(job_id)["video_duration_s"] == pytest.approx(plan["duration_s"], abs=1 / 30)


class FakeImds(http.server.BaseHTTPRequestHandler):
    """IMDSv2 on loopback: a token PUT, then the spot/instance-action GET (404 until noticed)."""

    notice = threading.Event()
    requests: ClassVar[list[str]] = []

    def do_PUT(self) -> None:
        self.requests.append(f"PUT {self.path}")
        ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        self._answer(200 if ok else 400, b"imds-token")

    def do_GET(self) -> None:
        self.requests.append(f"GET {self.path}")
        if self.headers.get("X-aws-ec2-metadata-token") != "imds-token":
            self._answer(401, b"")
        elif self.path == "/latest/meta-data/spot/instance-action" and self.notice.is_set():
            self._answer(200, json.dumps({"action": "terminate", "time": "2026-11-29T23:00:00Z"}).encode())
        else:
            self._answer(404, b"")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_spot_notice_stops_the_worker_cleanly(
    services: Services, task: types.SimpleNamespace, tmp_path: Path, aws: Any
):
    FakeImds.notice.clear()
    FakeImds.requests.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeImds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        job_id = seven_scene_job(services)
        plan = start_renderer({"job_id": job_id}, small(services))
        imds = {"M2V_IMDS_ENDPOINT": f"http://127.0.0.1:{server.server_port}", "M2V_SPOT_POLL_SECONDS": "0.1"}
        worker = start_worker(job_id, task.token, imds, tmp_path / "worker.log")
        wait_for_checkpoints(services, job_id, 1, worker)
        FakeImds.notice.set()
        assert worker.wait(timeout=60) == 1
    finally:
        server.shutdown()
    described = aws.wait(task.execution, timeout=30)
    assert described["status"] == "FAILED" and described["error"] == "SpotInterrupted"
    log_lines = (tmp_path / "worker.log").read_text().splitlines()
    failure = [json.loads(line) for line in log_lines if '"task failed"' in line]
    assert "instance-action" in failure[0]["error_message"]  # (moto drops the cause it was sent)
    assert renders_of(job_id) == []  # no ffmpeg left behind
    kept = len(services.storage.list_keys(JobKeys(job_id).prefix + "render/segments/"))
    assert 1 <= kept < plan["segments"]  # finished work stays for the next instance
    assert FakeImds.requests[:2] == ["PUT /latest/api/token", "GET /latest/meta-data/spot/instance-action"]
    assert services.jobs.get(job_id)["status"] == "voiced"
