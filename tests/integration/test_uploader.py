"""The uploader against a fake YouTube on loopback, with moto for S3, DynamoDB, SSM and Step Functions.

The video is a real MP4 made by ffmpeg; the worker runs as a real OS process where the
task token matters (a one-state machine hands it a real token), in-process elsewhere.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import math
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from manga2video.config import Settings
from manga2video.errors import SpotInterrupted, UploadError, YouTubeAuthError, YouTubeQuotaError
from manga2video.jobs import Chapter, pacific_date
from manga2video.launch import launch_worker, local_paths
from manga2video.local.emulator import function_arn
from manga2video.services import Services
from manga2video.storage import JobKeys
from manga2video.youtube import start_uploader
from manga2video.youtube.upload import upload_job
from scripts.authorize_youtube import store as store_token
from tests.fakes.youtube_server import CHUNK_MULTIPLE, FakeYouTube

REPO = Path(__file__).resolve().parents[2]
TOKEN_PARAMETER = "/manga2video/youtube-token"
STACK_KEY = "alias/manga2video"
CHUNK = CHUNK_MULTIPLE  # 256 KiB, the API's smallest chunk


# --- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A noisy MP4 of ~900 KB (four 256 KiB chunks) and a JPEG thumbnail, made by ffmpeg."""
    folder = tmp_path_factory.mktemp("media")
    video, thumbnail = folder / "video.mp4", folder / "thumbnail.jpg"
    noise = "nullsrc=s=160x120:r=10,geq=random(1)*255:128:128"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", noise, "-t", "3", "-c:v", "libx264",
         "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=320x180", "-frames:v", "1", str(thumbnail)],
        check=True,
    )
    assert 3 * CHUNK < video.stat().st_size < 5 * CHUNK
    return {"video": video, "thumbnail": thumbnail}


@pytest.fixture
def youtube() -> Iterator[FakeYouTube]:
    with FakeYouTube() as fake:
        yield fake


@pytest.fixture
def yt_settings(settings: Settings, youtube: FakeYouTube, tmp_path: Path) -> Settings:
    return dataclasses.replace(
        settings,
        youtube_token_ssm_parameter=TOKEN_PARAMETER,
        youtube_root_url=youtube.root_url,
        youtube_token_uri=youtube.token_uri,
        youtube_chunk_bytes=CHUNK,
        output_dir=str(tmp_path / "output"),
    )


@pytest.fixture
def yt_services(aws: Any, yt_settings: Settings) -> Services:
    services = Services(yt_settings)
    authorised_user = {"client_id": "cid", "client_secret": "secret", "refresh_token": "1//refresh"}
    ssm = services.client("ssm")
    # Terraform creates the parameter with a placeholder; the authorisation script overwrites it.
    ssm.put_parameter(Name=TOKEN_PARAMETER, Type="SecureString", KeyId=STACK_KEY, Value="placeholder")
    store_token(ssm, TOKEN_PARAMETER, json.dumps(authorised_user))
    return services


def rendered_job(
    services: Services, media: dict[str, Path], chapter_id: str = "1001", script: dict[str, Any] | None = None
) -> str:
    """A job in status rendered, its video, thumbnail and script in S3, and StartUploader's metadata."""
    chapter = Chapter(
        chapter_key=f"vo-luyen-dinh-phong/{chapter_id}",
        comic_key="vo-luyen-dinh-phong",
        comic_title="Võ Luyện Đỉnh Phong",
        chapter_title=f"Chương {chapter_id}",
        chapter_url=f"http://127.0.0.1:8765/truyen-tranh/vo-luyen-dinh-phong/chuong-{chapter_id}/{chapter_id}",
        chapter_number=float(chapter_id),
    )
    job = services.jobs.claim_chapter(chapter, owner="test", lease_seconds=3600, max_failures=3)
    assert job is not None
    job_id = job["job_id"]
    keys = JobKeys(job_id)
    services.storage.upload_file(media["video"], keys.video)
    services.storage.upload_file(media["thumbnail"], keys.thumbnail)
    script = script or {
        "title": "Trận chiến <cuối cùng>",
        "description": "Dương Khai đối đầu kẻ thù.",
        "tags": ["võ hiệp"],
    }
    services.storage.put_json(keys.script, script)
    for status in ("fetched", "scripted", "voiced"):
        services.jobs.transition(job_id, status)
    services.jobs.transition(job_id, "rendered", video_key=keys.video, thumbnail_key=keys.thumbnail)
    start_uploader({"job_id": job_id}, services)
    return job_id


class Sleeps(list):
    """Records the backoff instead of waiting it out."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def expected_units(settings: Settings, *methods: str) -> int:
    return sum(settings.youtube_quota_costs[method] for method in methods)


def quota_errors_published(services: Services) -> int:
    metrics = services.client("cloudwatch").list_metrics(
        Namespace="Manga2Video",
        MetricName="YouTubeQuotaErrors",
        Dimensions=[{"Name": "service", "Value": "manga2video"}],  # what terraform's youtube-quota alarm watches
    )
    return len(metrics["Metrics"])


def take_back_deferred(services: Services, job_id: str) -> None:
    """What tomorrow's FetchManga does first: find the deferred upload and claim it, no rendering."""
    assert [job["job_id"] for job in services.jobs.deferred_uploads()] == [job_id]
    claimed = services.jobs.claim_deferred_upload(job_id, owner="tomorrow")
    assert claimed is not None and claimed["status"] == "rendered"
    start_uploader({"job_id": job_id}, services)


# --- the worker process under a real task token ---------------------------------------------------
class UploadTask:
    """A one-state machine whose WaitForUpload launches the worker as the pipeline does (local backend)."""

    def __init__(self, aws: Any, services: Services, monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
        self.aws = aws
        self.services = Services(dataclasses.replace(services.settings, launch_backend="local",
                                                     local_state_dir=str(state_dir)))  # fmt: skip
        self.launches: queue.Queue[tuple[str, int]] = queue.Queue()
        settings = services.settings
        worker_env = {
            "PYTHONPATH": str(REPO),
            "M2V_YOUTUBE_TOKEN_SSM_PARAMETER": settings.youtube_token_ssm_parameter,
            "M2V_YOUTUBE_ROOT_URL": settings.youtube_root_url,
            "M2V_YOUTUBE_TOKEN_URI": settings.youtube_token_uri,
            "M2V_YOUTUBE_CHUNK_BYTES": str(settings.youtube_chunk_bytes),
            "M2V_WORKER_HEARTBEAT_SECONDS": "1",
        }
        for name, value in worker_env.items():
            monkeypatch.setenv(name, value)  # the launched process inherits the pipeline's environment
        aws.dispatcher.overrides["wait_for_upload"] = self._launch
        definition = {
            "StartAt": "WaitForUpload",
            "States": {
                "WaitForUpload": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {
                        "FunctionName": function_arn(aws.region, "wait_for_upload"),
                        "Payload": {"kind": "uploader", "job_id.$": "$.job_id", "task_token.$": "$$.Task.Token"},
                    },
                    "HeartbeatSeconds": 60,
                    "TimeoutSeconds": 600,
                    "End": True,
                }
            },
        }
        aws.create_state_machine(json.dumps(definition), name="upload-only")

    def _launch(self, event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
        launched = launch_worker(event, self.services)
        self.launches.put((event["task_token"], launched["pid"]))
        return launched

    def start(self, job_id: str, name: str) -> tuple[str, str, int]:
        """The execution, its task token and the first worker's pid."""
        execution = self.aws.start_execution({"job_id": job_id}, name=name)
        token, pid = self.launches.get(timeout=30)
        return execution, token, pid

    def relaunch(self, job_id: str, token: str) -> int:
        """What the Retry on a lost worker does: a new worker for the same upload."""
        self._launch({"kind": "uploader", "job_id": job_id, "task_token": token})
        return self.launches.get(timeout=5)[1]

    def log(self, job_id: str) -> str:
        return local_paths(self.services.settings, job_id, "uploader")[0].read_text("utf-8", "replace")


def exit_code(pid: int, timeout: float = 60.0) -> int:
    """Wait for a worker this process launched (launch_worker's Popen is its child)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            raise TimeoutError(f"worker {pid} still running after {timeout:.0f} s")
        time.sleep(0.05)


class SpotNoticeImds:
    """An IMDSv2 on loopback that already carries the Spot two-minute notice."""

    def __init__(self) -> None:
        served = self.served = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                self._answer(200, b"imds-token")

            def do_GET(self) -> None:
                if self.path != "/latest/meta-data/spot/instance-action":
                    return self._answer(404, b"")
                self._answer(200, b'{"action": "terminate", "time": "2026-11-29T23:00:00Z"}')
                served.set()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- tests ---------------------------------------------------------------------------------------------
def test_chunked_upload_arrives_byte_identical(yt_services: Services, youtube: FakeYouTube, media) -> None:
    job_id = rendered_job(yt_services, media)

    result = upload_job(job_id, yt_services)

    size = media["video"].stat().st_size
    video = youtube.videos[result["video_id"]]
    assert video.data == media["video"].read_bytes()
    assert youtube.chunk_puts == math.ceil(size / CHUNK) and youtube.bytes_received == size
    assert result == {"video_id": video.video_id, "url": f"https://www.youtube.com/watch?v={video.video_id}",
                      "channel": "youtube"}  # fmt: skip
    snippet, status = video.resource["snippet"], video.resource["status"]
    assert snippet["title"] == "Võ Luyện Đỉnh Phong – Chương 1001: Trận chiến ‹cuối cùng›"
    assert snippet["defaultLanguage"] == snippet["defaultAudioLanguage"] == "vi"
    assert status == {"privacyStatus": "private", "selfDeclaredMadeForKids": False, "embeddable": True}
    assert youtube.thumbnails[video.video_id] == media["thumbnail"].read_bytes()
    [playlist] = youtube.playlists.values()
    assert playlist["snippet"]["title"] == "Võ Luyện Đỉnh Phong"
    assert [item["snippet"]["resourceId"]["videoId"] for item in youtube.playlist_items] == [video.video_id]
    job = yt_services.jobs.get(job_id)
    assert job["video_id"] == video.video_id and job["thumbnail_set"] is True
    assert job["playlist_id"] == playlist["id"]
    assert job["youtube_quota_units"] == expected_units(
        yt_services.settings, "videos.insert", "thumbnails.set", "playlists.list", "playlists.insert",
        "playlistItems.insert",
    )  # fmt: skip
    session = yt_services.storage.get_json(JobKeys(job_id).upload_session)
    assert "upload_id=" in session["uri"] and session["size"] == size


def test_oversized_script_metadata_passes_youtubes_checks(yt_services: Services, youtube: FakeYouTube, media) -> None:
    script = {
        "title": "Đại chiến <Ma Tộc> " * 20,
        "description": "Dương Khai > kẻ thù. " * 400,
        "tags": [f"thẻ dài số {index}" for index in range(100)],
    }
    job_id = rendered_job(yt_services, media, script=script)

    result = upload_job(job_id, yt_services)  # the fake refuses what YouTube refuses (400 invalidTitle, ...)

    snippet = youtube.videos[result["video_id"]].resource["snippet"]
    assert len(snippet["title"]) <= 100 and len(snippet["description"].encode()) <= 5000 and snippet["tags"]


def test_next_chapter_of_the_comic_joins_the_same_playlist(yt_services: Services, youtube: FakeYouTube, media) -> None:
    upload_job(rendered_job(yt_services, media, "1001"), yt_services)
    upload_job(rendered_job(yt_services, media, "1002"), yt_services)

    assert len(youtube.playlists) == 1 and len(youtube.playlist_items) == 2


def test_503_mid_upload_is_resumed_from_the_server_offset(yt_services: Services, youtube: FakeYouTube, media) -> None:
    job_id = rendered_job(yt_services, media)
    youtube.faults.unavailable_chunks = {2}
    sleeps = Sleeps()

    result = upload_job(job_id, yt_services, sleep=sleeps)

    assert youtube.videos[result["video_id"]].data == media["video"].read_bytes()
    assert len(sleeps) == 1, "one backoff for one 503"
    assert youtube.status_queries == 1, "after the 503 the client asked for the offset"
    assert len(youtube.sessions) == 1
    # Only the refused chunk went twice, in one PUT more: a library retry (num_retries) would
    # re-send the exhausted chunk's stream as an empty body, in PUTs of its own.
    size = media["video"].stat().st_size
    assert youtube.bytes_received - size == CHUNK
    assert youtube.chunk_puts == math.ceil(size / CHUNK) + 1


def test_persistent_5xx_gives_up_with_upload_error(yt_services: Services, youtube: FakeYouTube, media) -> None:
    job_id = rendered_job(yt_services, media)
    youtube.faults.unavailable_chunks = set(range(2, 100))
    sleeps = Sleeps()

    with pytest.raises(UploadError, match="8 times in a row"):
        upload_job(job_id, yt_services, sleep=sleeps)

    assert len(sleeps) == 7 and sleeps == sorted(sleeps), "exponential backoff between the attempts"
    assert yt_services.jobs.get(job_id)["status"] == "rendered" and not youtube.videos


def test_killed_worker_resumes_from_the_saved_session(
    aws, yt_services: Services, youtube: FakeYouTube, media, monkeypatch, tmp_path
) -> None:
    job_id = rendered_job(yt_services, media)
    task = UploadTask(aws, yt_services, monkeypatch, tmp_path / "state")
    youtube.faults.stall_on_chunk = 3  # the instance dies while sending its third chunk
    execution, token, first = task.start(job_id, "kill-and-resume")

    assert youtube.stalled.wait(60), task.log(job_id)
    os.kill(first, signal.SIGKILL)
    assert exit_code(first) == -signal.SIGKILL
    youtube.faults.stall_on_chunk = None
    youtube.release.set()

    assert exit_code(task.relaunch(job_id, token)) == 0, task.log(job_id)

    described = aws.wait(execution, timeout=30)
    assert described["status"] == "SUCCEEDED"
    result = json.loads(described["output"])
    assert youtube.videos[result["video_id"]].data == media["video"].read_bytes()
    assert len(youtube.sessions) == 1, "the second worker used the saved session"
    resent = youtube.bytes_received - media["video"].stat().st_size
    assert 0 < resent < CHUNK, f"re-sent {resent} bytes"
    job = yt_services.jobs.get(job_id)
    assert job["status"] == "uploaded" and job["video_id"] == result["video_id"] and result["channel"] == "youtube"


def test_spot_notice_stops_between_chunks_and_the_next_worker_resumes(
    yt_services: Services, youtube: FakeYouTube, media
) -> None:
    job_id = rendered_job(yt_services, media)

    def notice_after_two_chunks() -> None:
        if youtube.chunk_puts >= 2:
            raise SpotInterrupted("Spot instance-action notice: terminate")

    with pytest.raises(SpotInterrupted):
        upload_job(job_id, yt_services, check_stop=notice_after_two_chunks)

    assert youtube.chunk_puts == 2 and not youtube.videos
    assert yt_services.jobs.get(job_id)["status"] == "rendered"

    result = upload_job(job_id, yt_services)

    assert youtube.videos[result["video_id"]].data == media["video"].read_bytes()
    assert len(youtube.sessions) == 1 and youtube.bytes_received == media["video"].stat().st_size


def test_worker_on_a_spot_notice_reports_spot_interrupted(
    aws, yt_services: Services, youtube: FakeYouTube, media, monkeypatch, tmp_path
) -> None:
    job_id = rendered_job(yt_services, media)
    imds = SpotNoticeImds()
    monkeypatch.setenv("M2V_IMDS_ENDPOINT", imds.endpoint)
    monkeypatch.setenv("M2V_SPOT_POLL_SECONDS", "0.2")
    task = UploadTask(aws, yt_services, monkeypatch, tmp_path / "state")
    youtube.faults.stall_on_chunk = 1  # the upload cannot finish before the notice has been read

    try:
        execution, _token, worker = task.start(job_id, "spot-notice")
        assert imds.served.wait(60), task.log(job_id)
        youtube.release.set()
        assert exit_code(worker) == 1, task.log(job_id)
    finally:
        imds.close()

    described = aws.wait(execution, timeout=30)
    assert described["status"] == "FAILED" and described["error"] == "SpotInterrupted"
    job = yt_services.jobs.get(job_id)
    assert job["status"] == "rendered" and not youtube.videos
    # the interrupted worker's time is on the bill, at the uploader's (small) hourly price
    assert 0 < float(job["cost_usd"]["spot"]) < yt_services.settings.uploader_spot_usd_per_hour


@pytest.mark.parametrize(
    ("fault", "value"),
    [("quota_on_insert", True), ("quota_from_fraction", 0.5), ("upload_limit_on_insert", True)],
    ids=["quota-on-first-request", "quota-halfway", "upload-limit"],
)
def test_quota_defers_and_the_next_run_uploads_without_rendering(
    yt_services: Services, youtube: FakeYouTube, media, fault: str, value: Any
) -> None:
    job_id = rendered_job(yt_services, media)
    setattr(youtube.faults, fault, value)

    with pytest.raises(YouTubeQuotaError, match="midnight Pacific"):
        upload_job(job_id, yt_services)

    job = yt_services.jobs.get(job_id)
    assert job["status"] == "upload_deferred" and "Exceeded" in job["deferred_reason"]
    assert yt_services.storage.exists(job["video_key"]), "the rendered video stays in S3"
    assert not youtube.videos and quota_errors_published(yt_services) == 1
    received_today = youtube.bytes_received

    youtube.faults = type(youtube.faults)()  # midnight Pacific: the quota is back
    take_back_deferred(yt_services, job_id)
    result = upload_job(job_id, yt_services)

    assert youtube.videos[result["video_id"]].data == media["video"].read_bytes()
    assert len(youtube.sessions) == 1, "the saved session (if any) was resumed"
    refused = CHUNK if fault == "quota_from_fraction" else 0
    assert youtube.bytes_received == media["video"].stat().st_size + refused, "only the refused chunk went twice"
    assert received_today >= refused
    assert yt_services.jobs.get(job_id)["timings"].keys() >= {"rendered", "upload_deferred"}


def test_quota_error_reaches_step_functions_as_youtube_quota_error(
    aws, yt_services: Services, youtube: FakeYouTube, media, monkeypatch, tmp_path
) -> None:
    job_id = rendered_job(yt_services, media)
    youtube.faults.quota_on_insert = True
    task = UploadTask(aws, yt_services, monkeypatch, tmp_path / "state")

    execution, _token, worker = task.start(job_id, "quota-day")

    assert exit_code(worker) == 1, task.log(job_id)
    described = aws.wait(execution, timeout=30)
    assert described["status"] == "FAILED" and described["error"] == "YouTubeQuotaError"
    assert yt_services.jobs.get(job_id)["status"] == "upload_deferred"


def test_thumbnail_quota_error_keeps_the_video_id(yt_services: Services, youtube: FakeYouTube, media) -> None:
    job_id = rendered_job(yt_services, media)
    youtube.faults.thumbnail_quota = True

    with pytest.raises(YouTubeQuotaError, match=r"thumbnails\.set"):
        upload_job(job_id, yt_services)

    [video_id] = youtube.videos
    job = yt_services.jobs.get(job_id)
    assert job["status"] == "upload_deferred" and job["video_id"] == video_id
    assert job["youtube_quota_units"] == expected_units(yt_services.settings, "videos.insert")

    youtube.faults.thumbnail_quota = False
    take_back_deferred(yt_services, job_id)
    result = upload_job(job_id, yt_services)

    assert result["video_id"] == video_id and list(youtube.videos) == [video_id], "no second upload"
    assert youtube.thumbnails[video_id] == media["thumbnail"].read_bytes()
    assert len(youtube.sessions) == 1 and len(youtube.playlist_items) == 1


def test_thumbnail_refused_for_another_reason_is_a_warning(yt_services: Services, youtube: FakeYouTube, media) -> None:
    job_id = rendered_job(yt_services, media)
    youtube.faults.thumbnail_forbidden = True

    result = upload_job(job_id, yt_services)

    assert result["video_id"] in youtube.videos and not youtube.thumbnails
    assert youtube.calls("POST", "/upload/youtube/v3/thumbnails/set") == 1, "a 403 is not retried"
    job = yt_services.jobs.get(job_id)
    [warning] = job["upload_warnings"]
    assert warning.startswith("thumbnails.set failed") and "forbidden" in warning
    assert len(youtube.playlist_items) == 1 and "thumbnail_set" not in job


def test_invalid_grant_tells_the_operator_to_authorise_again(
    yt_services: Services, youtube: FakeYouTube, media
) -> None:
    job_id = rendered_job(yt_services, media)
    youtube.faults.invalid_grant = True

    with pytest.raises(YouTubeAuthError) as raised:
        upload_job(job_id, yt_services)

    message = str(raised.value)
    assert "invalid_grant" in message and "scripts/authorize_youtube.py" in message and TOKEN_PARAMETER in message
    assert yt_services.jobs.get(job_id)["status"] == "rendered" and not youtube.sessions


def test_authorisation_script_overwrites_under_the_stacks_kms_key(aws) -> None:
    ssm = aws.client("ssm")
    ssm.put_parameter(Name=TOKEN_PARAMETER, Type="SecureString", KeyId=STACK_KEY, Value="placeholder")
    sent: list[dict[str, Any]] = []
    ssm.meta.events.register("provide-client-params.ssm.PutParameter", lambda params, **_: sent.append(dict(params)))

    assert store_token(ssm, TOKEN_PARAMETER, '{"refresh_token": "r"}') == 2

    # An overwrite without KeyId may fall back to aws/ssm, a key the workers' role is not given.
    [request] = sent
    assert request["KeyId"] == STACK_KEY and request["Type"] == "SecureString" and request["Overwrite"] is True
    stored = ssm.get_parameter(Name=TOKEN_PARAMETER, WithDecryption=True)["Parameter"]["Value"]
    assert stored == '{"refresh_token": "r"}'


@pytest.mark.parametrize("stored", ["placeholder: set with aws ssm put-parameter --overwrite", None])
def test_missing_authorisation_tells_the_operator_to_authorise(yt_services: Services, media, stored: str | None):
    job_id = rendered_job(yt_services, media)
    ssm = yt_services.client("ssm")
    if stored is None:
        ssm.delete_parameter(Name=TOKEN_PARAMETER)
    else:
        ssm.put_parameter(Name=TOKEN_PARAMETER, Type="SecureString", Value=stored, Overwrite=True)

    with pytest.raises(YouTubeAuthError, match=r"scripts/authorize_youtube\.py"):
        upload_job(job_id, yt_services)
    assert yt_services.jobs.get(job_id)["status"] == "rendered"


def test_an_unreadable_token_parameter_is_a_named_upload_error(yt_services: Services, media) -> None:
    job_id = rendered_job(yt_services, media)
    with Stubber(yt_services.client("ssm")) as ssm:
        ssm.add_client_error("get_parameter", "AccessDeniedException", "not authorized to perform ssm:GetParameter")

        with pytest.raises(UploadError, match=f"{TOKEN_PARAMETER}.*AccessDeniedException"):
            upload_job(job_id, yt_services)

    assert yt_services.jobs.get(job_id)["status"] == "rendered"


def test_expired_saved_session_starts_a_new_one(yt_services: Services, youtube: FakeYouTube, media) -> None:
    job_id = rendered_job(yt_services, media)
    stale = f"{youtube.root_url}upload/youtube/v3/videos?uploadType=resumable&upload_id=gone"
    size = media["video"].stat().st_size
    yt_services.storage.put_json(JobKeys(job_id).upload_session, {"uri": stale, "size": size})

    result = upload_job(job_id, yt_services)

    assert youtube.videos[result["video_id"]].data == media["video"].read_bytes()
    assert youtube.status_queries == 0 and len(youtube.sessions) == 1


def test_without_credentials_the_local_channel_is_used(services: Services, media, tmp_path: Path) -> None:
    local = Services(dataclasses.replace(services.settings, youtube_token_ssm_parameter="", output_dir=str(tmp_path)))
    job_id = rendered_job(local, media)

    result = upload_job(job_id, local)

    folder = tmp_path / pacific_date(timezone=local.settings.quota_timezone)
    assert result == {"video_id": f"local-{job_id}", "url": (folder / f"{job_id}.mp4").as_uri(), "channel": "local"}
    assert (folder / f"{job_id}.mp4").read_bytes() == media["video"].read_bytes()
    assert (folder / f"{job_id}.jpg").read_bytes() == media["thumbnail"].read_bytes()
    assert json.loads((folder / f"{job_id}.json").read_text())["body"]["snippet"]["defaultLanguage"] == "vi"
    assert local.jobs.get(job_id)["fallbacks"] == ["local channel"]
