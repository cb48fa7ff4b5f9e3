"""`make run` end to end: the runner in its own process, on the fixture site, with real workers.

One folder, two runs in a row, as a person would make them:
1. `--quota 2 --keep`: two videos from nothing;
2. `--quota 2` with the renderer killed once mid-video: two new chapters all the same.
In another folder, `--quota 1` stopped by Ctrl-C while the renderer works releases the job
(not failed), and the next `--quota 1` resumes and publishes it.

The runs keep the ASL's (AWS's) numbers except where a stage says otherwise, but do not
sleep Retry intervals (--retry-sleep-scale 0), so a retried state does not wait 60 s.
The chapters are made small: 3 script images (so 2-3 scenes), espeak-ng at +50 %, ffmpeg's
ultrafast preset; the videos stay 1920x1080.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from manga2video.config import load_settings
from manga2video.jobs import pacific_date
from manga2video.local import persistence

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 540
SETTINGS = load_settings({})


def run_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("M2V_", "AWS_")) and key != "MOTO_PORT"
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "M2V_LOCAL_STATE_DIR": str(tmp / "state"),
            "M2V_OUTPUT_DIR": str(tmp / "output"),
            "M2V_SCRIPT_MAX_IMAGES": "3",
            "M2V_TTS_ENGINE": "espeak",
            "M2V_TTS_RATE": "+50%",
            "M2V_RENDER_PRESET": "ultrafast",
            **extra,
        }
    )
    return env


def start_runner(tmp: Path, *args: str, **env: str) -> subprocess.Popen:
    command = [sys.executable, str(ROOT / "scripts" / "run_local.py"), "--no-live", "--retry-sleep-scale", "0", *args]
    return subprocess.Popen(
        command, cwd=tmp, env=run_env(tmp, **env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen) -> tuple[int, str]:
    output, _ = process.communicate(timeout=RUN_TIMEOUT)
    return process.returncode, output


def last_run(tmp: Path) -> dict[str, Any]:
    return json.loads((tmp / "state" / "last-run.json").read_text(encoding="utf-8"))


def published(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [video for video in run["videos"] if video["outcome"] == "published"]


def jobs_in_state(tmp: Path) -> dict[str, dict[str, Any]]:
    return {job["job_id"]: job for job in persistence.table_items(tmp / "state", SETTINGS.jobs_table)}


def ffprobe(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def assert_full_hd_as_long_as_its_narration(video: dict[str, Any], kept: Path) -> None:
    """1920x1080 H.264 + AAC, as long as the title card plus the narration within one frame."""
    probe = ffprobe(Path(video["video"]))
    streams = {stream["codec_type"]: stream for stream in probe["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert (streams["video"]["width"], streams["video"]["height"]) == (1920, 1080)
    assert streams["audio"]["codec_name"] == "aac"
    fps_num, fps_den = (int(part) for part in streams["video"]["r_frame_rate"].split("/"))
    frame = fps_den / fps_num
    narration = json.loads((kept / video["job_id"] / "audio" / "narration.json").read_text(encoding="utf-8"))
    manifest = json.loads((kept / video["job_id"] / "render" / "manifest.json").read_text(encoding="utf-8"))
    title_card = next(segment for segment in manifest["segments"] if segment["kind"] == "title")
    expected = float(title_card["duration_s"]) + sum(float(scene["duration_s"]) for scene in narration["scenes"])
    assert abs(float(streams["video"]["duration"]) - expected) <= frame + 1e-6
    assert abs(float(probe["format"]["duration"]) - expected) <= frame + 1e-6


def renderer_pid(workers: Path) -> int | None:
    """A live renderer process of the run, from the pid files the local launch backend writes."""
    for path in workers.glob("*.pid"):
        try:
            pid = int(path.read_text().split()[0])
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if b"workers.renderer" in command:
            return pid
    return None


def wait_for_renderer(tmp: Path, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        pid = renderer_pid(tmp / "state" / "workers")
        if pid:
            return pid
        time.sleep(0.2)
    output = process.communicate(timeout=60)[0] if process.poll() is not None else ""
    raise AssertionError(f"no renderer process appeared\n{output}")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("make-run")


@pytest.fixture(scope="module")
def first_run(folder: Path) -> dict[str, Any]:
    code, output = finish(start_runner(folder, "--quota", "2", "--keep"))
    assert code == 0, output
    return last_run(folder)


@pytest.fixture(scope="module")
def second_run(folder: Path, first_run: dict[str, Any]) -> dict[str, Any]:
    """The killed renderer stops heartbeating; the heartbeat timeout's Retry launches a new one.

    The heartbeat is shortened (renderer_heartbeat_seconds=20, workers beat every 2 s) so the
    loss shows in seconds rather than AWS's 5 minutes.
    """
    process = start_runner(
        folder, "--quota", "2", "--asl", "renderer_heartbeat_seconds=20", M2V_WORKER_HEARTBEAT_SECONDS="2"
    )
    renderer = wait_for_renderer(folder, process)
    time.sleep(1.0)  # the kill lands while it renders
    os.kill(renderer, signal.SIGKILL)
    code, output = finish(process)
    assert code == 0, output
    return last_run(folder)


def test_first_run_publishes_two_full_hd_videos_on_the_local_channel(folder: Path, first_run: dict) -> None:
    videos = published(first_run)
    assert len(videos) == 2, first_run
    date = pacific_date()
    for video in videos:
        assert video["upload"]["channel"] == "local"
        for suffix in (".mp4", ".jpg", ".json"):
            assert (folder / "output" / date / f"{video['job_id']}{suffix}").is_file()
        assert_full_hd_as_long_as_its_narration(video, folder / "state" / "kept")
    assert first_run["counter"] == {"date": date, "count": 2}
    report = (folder / "output" / date / "report.html").read_text(encoding="utf-8")
    assert report.count("<rect") >= 20
    assert all(f"{video['job_id']}.jpg" in report for video in videos)


def test_first_run_leaves_both_jobs_cleaned_and_no_working_files(folder: Path, first_run: dict) -> None:
    jobs = jobs_in_state(folder)
    for video in published(first_run):
        assert jobs[video["job_id"]]["status"] == "cleaned"
        assert jobs[video["job_id"]]["video_id"] == video["upload"]["video_id"]
    assert not [key for key in persistence.object_keys(folder / "state") if key.startswith("jobs/")]


def test_second_run_takes_two_new_chapters_despite_a_killed_renderer(
    folder: Path, first_run: dict, second_run: dict
) -> None:
    first_jobs = {video["job_id"] for video in published(first_run)}
    second_jobs = {video["job_id"] for video in published(second_run)}
    assert len(second_jobs) == 2, second_run
    assert not first_jobs & second_jobs
    renders = [
        state for video in published(second_run) for state in video["states"] if state["state"] == "WaitForRender"
    ]
    assert sum(state["failed_tries"] for state in renders) == 1, renders
    for video in published(second_run):
        streams = {stream["codec_type"] for stream in ffprobe(Path(video["video"]))["streams"]}
        assert streams == {"video", "audio"}
    assert second_run["counter"]["count"] == 4
    counters = {
        item["date"]: item["count"] for item in persistence.table_items(folder / "state", SETTINGS.counters_table)
    }
    assert counters[pacific_date()] == 4


def test_ctrl_c_releases_the_job_and_the_next_run_resumes_it(tmp_path: Path) -> None:
    folder = tmp_path
    process = start_runner(folder, "--quota", "1")
    renderer = wait_for_renderer(folder, process)
    process.send_signal(signal.SIGINT)
    code, output = finish(process)
    assert code == 130, output
    command = Path(f"/proc/{renderer}/cmdline")
    assert not command.exists() or not command.read_bytes(), "the renderer outlived the run"
    interrupted = last_run(folder)
    assert interrupted["interrupted"] and interrupted["status"] == "ABORTED"
    [job_id] = [video["job_id"] for video in interrupted["videos"]]
    job = jobs_in_state(folder)[job_id]
    assert job["status"] == "voiced"
    assert (job["lease_until"], job["failures"]) == (0, 0)
    assert job["interrupted"]
    assert not list((folder / "state" / "workers").glob("*.pid"))

    code, output = finish(start_runner(folder, "--quota", "1"))
    assert code == 0, output
    [resumed] = published(last_run(folder))
    assert resumed["job_id"] == job_id
    assert jobs_in_state(folder)[job_id]["status"] == "cleaned"
