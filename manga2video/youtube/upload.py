"""The uploader's core: a resumable videos.insert that a new Spot instance can pick up.

The resumable session is opened here (not inside the library) so its URI reaches S3 before
the first byte is sent; a new instance asks YouTube how much of that session it already
holds and sends only the rest. Chunks are retried here on 5xx and connection errors,
never with next_chunk(num_retries=...), which re-sends a chunk the server already has.
The video_id is written to the job the moment YouTube returns it, so a failure in
thumbnails.set or playlistItems.insert afterwards can never lose or duplicate the video.
"""

from __future__ import annotations

import http.client
import json
import random
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.auth.exceptions
import httplib2
from botocore.exceptions import BotoCoreError, ClientError
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload

from manga2video.errors import JobStateError, UploadError, YouTubeAuthError, YouTubeQuotaError
from manga2video.jobs import UPLOAD_DEFERRED
from manga2video.observability import NAMESPACE, SERVICE, logger
from manga2video.services import Services
from manga2video.storage import JobKeys
from manga2video.youtube.client import (
    REAUTHORISE,
    YouTubeApi,
    build_youtube,
    error_reason,
    is_quota_error,
    load_credentials,
)
from manga2video.youtube.local_channel import publish_locally

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    httplib2.HttpLib2Error,
    http.client.HTTPException,
    google.auth.exceptions.TransportError,
)
WATCH_URL = "https://www.youtube.com/watch?v={video_id}"
QUOTA_METRIC = "YouTubeQuotaErrors"


@dataclass
class Backoff:
    """Exponential backoff with jitter; gives up after `attempts` failures in a row."""

    sleep: Callable[[float], None] = time.sleep
    attempts: int = 8
    base_seconds: float = 1.0
    cap_seconds: float = 64.0
    failures: int = 0

    def failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        if self.failures >= self.attempts:
            raise UploadError(f"{what} failed {self.failures} times in a row; last error: {exc}") from exc
        delay = min(self.cap_seconds, self.base_seconds * 2 ** (self.failures - 1)) * random.uniform(0.5, 1.0)
        logger.warning(f"{what} failed, retrying", extra={"error": str(exc)[:300], "retry_in_s": round(delay, 2)})
        self.sleep(delay)

    def succeeded(self) -> None:
        self.failures = 0


def is_retryable(exc: HttpError) -> bool:
    return exc.resp.status in RETRYABLE_STATUSES or error_reason(exc) in {"rateLimitExceeded", "backendError"}


@dataclass
class SessionState:
    """What YouTube holds of a saved session: `offset` bytes, the finished video, or nothing."""

    offset: int = 0
    video: dict[str, Any] | None = None
    expired: bool = False


class YouTubeUploader:
    """Uploads one job's video, thumbnail and playlist entry, recording progress on the job."""

    def __init__(
        self,
        job: Mapping[str, Any],
        metadata: Mapping[str, Any],
        services: Services,
        api: YouTubeApi,
        *,
        workdir: Path,
        backoff: Backoff,
        check_stop: Callable[[], None] = lambda: None,
    ) -> None:
        self.job = dict(job)
        self.job_id = str(job["job_id"])
        self.keys = JobKeys(self.job_id)
        self.metadata = metadata
        self.services = services
        self.api = api
        self.workdir = workdir
        self.backoff = backoff
        self.check_stop = check_stop  # raises when the worker must stop (Spot notice, task gone)
        self.step = "starting"
        self.units_used = 0

    # --- the whole upload ----------------------------------------------------------
    def run(self) -> dict[str, Any]:
        video_id = self.job.get("video_id") or self.upload_video()
        if self.metadata.get("thumbnail_key") and not self.job.get("thumbnail_set"):
            self.optional("thumbnails.set", lambda: self.set_thumbnail(video_id))
        if not self.job.get("playlist_item_id"):
            self.optional("playlistItems.insert", lambda: self.add_to_playlist(video_id))
        return {"video_id": video_id, "url": WATCH_URL.format(video_id=video_id), "channel": "youtube"}

    def optional(self, what: str, step: Callable[[], None]) -> None:
        """Thumbnail and playlist are extras: only a quota error stops the job (it ends the day anyway)."""
        try:
            step()
        except HttpError as exc:
            if is_quota_error(exc):
                raise
            self.warn(what, exc)
        except UploadError as exc:
            self.check_stop()  # a stop request is not a failure of the extra
            self.warn(what, exc)

    def warn(self, what: str, exc: BaseException) -> None:
        detail = f"{exc.resp.status} {error_reason(exc)}: {exc.reason}" if isinstance(exc, HttpError) else str(exc)
        note = f"{what} failed, the video is uploaded without it: {detail[:300]}"
        logger.warning(note)
        warnings = [*self.job.get("upload_warnings", []), note]
        self.services.jobs.update_fields(self.job_id, upload_warnings=warnings)
        self.job["upload_warnings"] = warnings

    # --- API calls with retries and quota accounting ------------------------------------
    def call(self, what: str, send: Callable[[], Any]) -> Any:
        """Send until it works, backing off on 5xx and connection errors; others propagate."""
        self.step = what
        while True:
            self.check_stop()
            try:
                result = send()
            except HttpError as exc:
                if not is_retryable(exc):
                    raise
                self.backoff.failed(what, exc)
                continue
            except TRANSPORT_ERRORS as exc:
                self.backoff.failed(what, exc)
                continue
            self.backoff.succeeded()
            return result

    def spend(self, method: str) -> None:
        self.units_used += self.services.settings.youtube_quota_costs.get(method, 0)

    # --- the video ----------------------------------------------------------------------
    def upload_video(self) -> str:
        path = self.workdir / "video.mp4"
        self.services.storage.download_file(self.metadata["video_key"], path)
        size = path.stat().st_size
        media = MediaFileUpload(
            str(path), mimetype="video/mp4", chunksize=self.services.settings.youtube_chunk_bytes, resumable=True
        )
        request = self.api.service.videos().insert(part="snippet,status", body=self.metadata["body"], media_body=media)
        video = self.attach_session(request, size)
        while video is None:
            before = request.resumable_progress
            _, video = self.call("videos.insert upload", request.next_chunk)
            if request.resumable_progress > before or video is not None:
                logger.info("upload progress", extra={"bytes": request.resumable_progress, "of": size})
        video_id = str(video["id"])
        self.services.jobs.update_fields(self.job_id, video_id=video_id, video_url=WATCH_URL.format(video_id=video_id))
        self.job["video_id"] = video_id
        logger.info("video uploaded", extra={"video_id": video_id, "bytes": size})
        return video_id

    def attach_session(self, request: Any, size: int) -> dict[str, Any] | None:
        """Point the request at the saved session (resuming) or a new one; the video if already done."""
        saved = self.saved_session(size)
        if saved is not None:
            state = self.call("upload status query", lambda: self.query_session(saved, size))
            if state.video is not None:
                logger.info("the saved session had finished the upload before the worker stopped")
                return state.video
            if not state.expired:
                logger.info("resuming the saved upload session", extra={"offset": state.offset, "of": size})
                request.resumable_uri, request.resumable_progress = saved, state.offset
                return None
            logger.warning("the saved upload session has expired; starting a new one")
        uri = self.call("videos.insert session", lambda: self.open_session(request, size))
        self.spend("videos.insert")
        session = {"uri": uri, "size": size, "video_key": self.metadata["video_key"]}
        self.services.storage.put_json(self.keys.upload_session, session)
        request.resumable_uri, request.resumable_progress = uri, 0
        return None

    def saved_session(self, size: int) -> str | None:
        if not self.services.storage.exists(self.keys.upload_session):
            return None
        saved = self.services.storage.get_json(self.keys.upload_session)
        return saved["uri"] if saved.get("size") == size else None

    def open_session(self, request: Any, size: int) -> str:
        """The resumable session's first POST, as the library would send it, but ours to save."""
        headers = {
            **request.headers,
            "X-Upload-Content-Type": request.resumable.mimetype(),
            "X-Upload-Content-Length": str(size),
        }
        response, content = self.api.http.request(
            request.uri, method=request.method, body=request.body, headers=headers
        )
        if response.status == 200 and "location" in response:
            return str(response["location"])
        raise HttpError(response, content, uri=request.uri)

    def query_session(self, uri: str, size: int) -> SessionState:
        """Ask YouTube how many bytes the session holds (PUT with Content-Range: bytes */size)."""
        response, content = self.api.http.request(
            uri, method="PUT", body=b"", headers={"Content-Range": f"bytes */{size}", "Content-Length": "0"}
        )
        if response.status in (200, 201):
            return SessionState(offset=size, video=json.loads(content))
        if response.status == 308:
            held = response.get("range")
            return SessionState(offset=int(held.rsplit("-", 1)[1]) + 1 if held else 0)
        if response.status in (404, 410):
            return SessionState(expired=True)
        raise HttpError(response, content, uri=uri)

    # --- the extras -----------------------------------------------------------------------
    def set_thumbnail(self, video_id: str) -> None:
        path = self.workdir / "thumbnail.jpg"
        self.services.storage.download_file(self.metadata["thumbnail_key"], path)
        request = self.api.service.thumbnails().set(
            videoId=video_id, media_body=MediaFileUpload(str(path), mimetype="image/jpeg")
        )
        self.call("thumbnails.set", request.execute)
        self.spend("thumbnails.set")
        self.services.jobs.update_fields(self.job_id, thumbnail_set=True)

    def add_to_playlist(self, video_id: str) -> None:
        playlist_id = self.playlist_id()
        body = {"snippet": {"playlistId": playlist_id, "resourceId": {"kind": "youtube#video", "videoId": video_id}}}
        insert = self.api.service.playlistItems().insert(part="snippet", body=body)
        item = self.call("playlistItems.insert", insert.execute)
        self.spend("playlistItems.insert")
        self.services.jobs.update_fields(self.job_id, playlist_id=playlist_id, playlist_item_id=str(item["id"]))

    def playlist_id(self) -> str:
        """The comic's playlist on the channel, found by title, created on its first chapter."""
        wanted = self.metadata["playlist"]
        playlists = self.api.service.playlists()
        page_token: str | None = None
        while True:
            page = self.call(
                "playlists.list",
                playlists.list(part="snippet", mine=True, maxResults=50, pageToken=page_token).execute,
            )
            self.spend("playlists.list")
            for item in page.get("items", []):
                if item.get("snippet", {}).get("title") == wanted["title"]:
                    return str(item["id"])
            page_token = page.get("nextPageToken")
            if not page_token:
                break
        body = {
            "snippet": {"title": wanted["title"], "defaultLanguage": "vi"},
            "status": {"privacyStatus": wanted["privacy_status"]},
        }
        created = self.call("playlists.insert", playlists.insert(part="snippet,status", body=body).execute)
        self.spend("playlists.insert")
        return str(created["id"])

    # --- a quota day ----------------------------------------------------------------------
    def defer(self, exc: HttpError) -> str:
        """Keep everything (video in S3, session, any video_id) and hand the job to tomorrow's run."""
        reason = (
            f"YouTube {error_reason(exc)} ({exc.resp.status}) during {self.step}; "
            "the upload waits for the quota reset at midnight Pacific time"
        )
        self.services.jobs.defer_upload(self.job_id, reason=reason)
        publish_quota_metric(self.services)
        logger.warning("YouTube quota reached: upload deferred", extra={"reason": reason})
        return reason

    def record_units(self) -> None:
        if self.units_used:
            total = int(self.job.get("youtube_quota_units") or 0) + self.units_used
            self.services.jobs.update_fields(self.job_id, youtube_quota_units=total)
            logger.info("YouTube quota units used", extra={"units": self.units_used, "job_total": total})


def publish_quota_metric(services: Services) -> None:
    """Terraform's youtube-quota alarm watches this (same service dimension as Powertools' metrics);
    a CloudWatch hiccup must not hide the quota error itself."""
    try:
        services.client("cloudwatch").put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": QUOTA_METRIC,
                    "Dimensions": [{"Name": "service", "Value": SERVICE}],
                    "Value": 1,
                    "Unit": "Count",
                }
            ],
        )
    except (BotoCoreError, ClientError) as exc:
        logger.warning("could not publish the quota metric", extra={"error": str(exc)})


def upload_job(
    job_id: str,
    services: Services,
    *,
    check_stop: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Upload a rendered job to YouTube (or the local channel without credentials): {video_id, url, channel}.

    `check_stop` is called before every request and raises to stop between chunks; the saved
    session lets the next worker go on from there.
    """
    job = services.jobs.get(job_id)
    if job["status"] == "uploaded" and job.get("video_id"):
        return {"video_id": job["video_id"], "url": job["video_url"], "channel": job.get("upload_channel", "youtube")}
    if job["status"] != "rendered":
        hint = " (tomorrow's run takes it back first)" if job["status"] == UPLOAD_DEFERRED else ""
        raise JobStateError(f"job {job_id} is {job['status']}, not rendered{hint}")
    metadata = services.storage.get_json(JobKeys(job_id).upload_metadata)
    settings = services.settings
    if not settings.youtube_token_ssm_parameter:
        return publish_locally(job, metadata, services)
    api = build_youtube(load_credentials(services.client("ssm"), settings), settings)
    with tempfile.TemporaryDirectory(prefix="m2v-upload-") as workdir:
        uploader = YouTubeUploader(
            job, metadata, services, api, workdir=Path(workdir), backoff=Backoff(sleep=sleep), check_stop=check_stop
        )
        try:
            return uploader.run()
        except HttpError as exc:
            if is_quota_error(exc):
                raise YouTubeQuotaError(uploader.defer(exc)) from exc
            raise UploadError(
                f"YouTube answered {exc.resp.status} {error_reason(exc)} during {uploader.step}: {exc}"
            ) from exc
        except google.auth.exceptions.RefreshError as exc:
            detail = REAUTHORISE.format(detail=exc, parameter=settings.youtube_token_ssm_parameter)
            raise YouTubeAuthError(detail) from exc
        finally:
            uploader.record_units()
