"""`make run` end to end: the runner in its own process, on the fixture site, with real workers.

These runs use the ASL's (AWS's) numbers except where a test says otherwise; Retry
intervals are not slept (--retry-sleep-scale 0) so a retried state does not wait 60 s.
Chapters are the fixture site's own (6 to 12 pages); the render preset is ultrafast.
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


def run_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("M2V_", "AWS_")) and key != "MOTO_PORT"
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "M2V_LOCAL_STATE_DIR": str(tmp / "state"),
            "M2V_OUTPUT_DIR": str(tmp / "output"),
            "M2V_RENDER_PRESET": "ultrafast",
            "M2V_TTS_ENGINE": "espeak",
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


def ffprobe(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def published(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [video for video in run["videos"] if video["outcome"] == "published"]


def assert_full_hd_video(video: dict[str, Any], kept: Path) -> None:
    """1920x1080 H.264 + AAC, as long as title card + narration within one frame."""
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
    expected = float(title_card["duration_s"]) + sum(scene["duration_s"] for scene in narration["scenes"])
    assert abs(float(streams["video"]["duration"]) - expected) <= frame + 1e-6
    assert abs(float(probe["format"]["duration"]) - expected) <= frame + 1e-6


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """Two `make run --quota 2` in the same folder, the second after the first's state was saved."""
    tmp = tmp_path_factory.mktemp("local-run")
    code, output = finish(start_runner(tmp, "--quota", "2", "--keep"))
    assert code == 0, output
    first = last_run(tmp)
    code, output = finish(start_runner(tmp, "--quota", "2", "--keep"))
    assert code == 0, output
    return tmp, first, last_run(tmp)


def test_first_run_publishes_two_full_hd_videos_on_the_local_channel(two_runs) -> None:
    tmp, first, _ = two_runs
    videos = published(first)
    assert len(videos) == 2
    date = pacific_date()
    for video in videos:
        assert video["upload"]["channel"] == "local"
        for suffix in (".mp4", ".jpg", ".json"):
            assert (tmp / "output" / date / f"{video['job_id']}{suffix}").is_file()
        assert_full_hd_video(video, tmp / "state" / "kept")
    assert (tmp / "output" / date / "report.html").read_text(encoding="utf-8").count("<rect") >= 20


def test_the_state_left_behind_counts_four_cleaned_jobs_and_no_working_files(two_runs) -> None:
    tmp, first, second = two_runs
    settings = load_settings({})
    counters = {item["date"]: item["count"] for item in persistence.table_items(tmp / "state", settings.counters_table)}
    assert first["counter"] == {"date": pacific_date(), "count": 2}
    assert second["counter"] == {"date": pacific_date(), "count": 4}
    assert counters[pacific_date()] == 4
    jobs = {job["job_id"]: job for job in persistence.table_items(tmp / "state", settings.jobs_table)}
    for video in published(first) + published(second):
        assert jobs[video["job_id"]]["status"] == "cleaned"
        assert jobs[video["job_id"]]["video_id"]
    assert not [key for key in persistence.object_keys(tmp / "state") if key.startswith("jobs/")]


def test_a_second_run_takes_two_new_chapters(two_runs) -> None:
    _, first, second = two_runs
    first_jobs = {video["job_id"] for video in published(first)}
    second_jobs = {video["job_id"] for video in published(second)}
    assert len(second_jobs) == 2
    assert not first_jobs & second_jobs


def renderer_pid(workers: Path) -> int | None:
    for path in workers.glob("*.pid"):
        try:
            pid = int(path.read_text().split()[0])
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if b"workers.renderer" in command:
            return pid
    return None


def test_a_renderer_killed_mid_video_is_replaced_and_both_videos_are_published(tmp_path: Path) -> None:
    """The killed worker stops heartbeating; the heartbeat timeout's Retry launches a new one.

    The heartbeat is shortened (renderer_heartbeat_seconds=20, workers beat every 2 s) so the
    loss shows in seconds rather than AWS's 5 minutes.
    """
    process = start_runner(
        tmp_path, "--quota", "2", "--asl", "renderer_heartbeat_seconds=20", M2V_WORKER_HEARTBEAT_SECONDS="2"
    )
    deadline = time.monotonic() + RUN_TIMEOUT
    killed = None
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        killed = renderer_pid(tmp_path / "state" / "workers")
        time.sleep(0.2)
    assert killed, "no renderer process appeared"
    time.sleep(1.0)  # let it start rendering: the kill lands mid-video
    os.kill(killed, signal.SIGKILL)
    code, output = finish(process)
    assert code == 0, output
    run = last_run(tmp_path)
    videos = published(run)
    assert len(videos) == 2, output
    retried = [state for video in videos for state in video["states"] if state["state"] == "WaitForRender"]
    assert any(state["failed_tries"] for state in retried), retried
    for video in videos:
        assert ffprobe(Path(video["video"]))["streams"]


def test_ctrl_c_stops_the_workers_releases_the_job_and_the_next_run_resumes_it(tmp_path: Path) -> None:
    process = start_runner(tmp_path, "--quota", "1")
    deadline = time.monotonic() + RUN_TIMEOUT
    renderer = None
    while renderer is None and time.monotonic() < deadline and process.poll() is None:
        renderer = renderer_pid(tmp_path / "state" / "workers")
        time.sleep(0.2)
    assert renderer, "no renderer process appeared"
    process.send_signal(signal.SIGINT)
    code, output = finish(process)
    assert code == 130, output
    assert not Path(f"/proc/{renderer}").exists() or b"zombie" in Path(f"/proc/{renderer}/status").read_bytes()
    interrupted = last_run(tmp_path)
    assert interrupted["interrupted"] and interrupted["status"] == "ABORTED"
    [job] = persistence.table_items(tmp_path / "state", load_settings({}).jobs_table)
    assert job["status"] in {"voiced", "rendered"}
    assert (job["lease_until"], job.get("failures", 0)) == (0, 0)
    assert "interrupted" in job

    code, output = finish(start_runner(tmp_path, "--quota", "1"))
    assert code == 0, output
    [resumed] = published(last_run(tmp_path))
    assert resumed["job_id"] == job["job_id"]
