"""The render worker's core: manifest in, checked video.mp4 and thumbnail.jpg out.

Every finished segment goes to S3 at once (with a digest of what it was rendered from),
so a new instance after a Spot interruption or a crash renders only what is missing.
The segments are joined without re-encoding and the narration is muxed once.
"""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import ClientError
from PIL import Image

from manga2video.errors import RenderError
from manga2video.observability import logger
from manga2video.render import ffmpeg
from manga2video.render.ffmpeg import FfmpegRunner
from manga2video.services import Services
from manga2video.storage import JobKeys

SPEC_METADATA = "render-spec"
# the manifest fields a segment's pixels depend on, besides the segment itself
SPEC_FIELDS = ("width", "height", "fps", "crf", "preset", "font")


def segment_digest(manifest: Mapping[str, Any], segment: Mapping[str, Any]) -> str:
    """Identifies what a checkpoint was rendered from, so a changed plan is not reused."""
    spec = {"segment": segment, "look": ffmpeg.LOOK_VERSION, **{name: manifest[name] for name in SPEC_FIELDS}}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def check_page_image(path: Path, page: int, key: str) -> None:
    """Decode the page fully once: ffmpeg would render a truncated JPEG as grey, silently."""
    try:
        with Image.open(path) as image:
            image.load()
    except Exception as exc:  # Pillow raises many types for bad data (OSError, SyntaxError, bombs)
        raise RenderError(f"page {page} ({key}) is not a readable image: {exc}") from exc


class SegmentRenderer:
    """Renders or reuses each segment of one manifest; safe to use from several threads."""

    def __init__(self, services: Services, manifest: Mapping[str, Any], runner: FfmpegRunner, workdir: Path) -> None:
        self.storage = services.storage
        self.keys = JobKeys(manifest["job_id"])
        self.manifest = manifest
        self.runner = runner
        self.workdir = workdir
        self.parallel = max(1, services.settings.render_parallel_segments)
        self.threads = max(1, (os.cpu_count() or 1) // self.parallel)
        self.page_paths: dict[int, Path] = {}
        self.text_files: dict[str, Path] = {}
        self.rendered: list[int] = []
        self.reused: list[int] = []
        self._lock = threading.Lock()
        self._failed = threading.Event()

    # --- inputs -----------------------------------------------------------------------
    def fetch_pages(self) -> None:
        pages = {shot["page"]: shot["key"] for segment in self.manifest["segments"] for shot in segment["shots"]}
        for page, key in sorted(pages.items()):
            path = self.workdir / "pages" / f"{page:03d}{PurePosixPath(key).suffix or '.jpg'}"
            self.storage.download_file(key, path)
            check_page_image(path, page, key)
            self.page_paths[page] = path
        title = self.manifest["segments"][0].get("text") or {}
        for name, width in (("comic", 34), ("chapter", 52)):
            path = self.workdir / f"title-{name}.txt"
            path.write_text(textwrap.fill(str(title.get(name, "")), width=width), encoding="utf-8")
            self.text_files[name] = path

    # --- segments ---------------------------------------------------------------------
    def path_of(self, index: int) -> Path:
        return self.workdir / "segments" / f"{index:03d}.mp4"

    def _checkpoint_matches(self, key: str, digest: str) -> bool:
        try:
            head = self.storage.s3.head_object(Bucket=self.storage.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return head.get("Metadata", {}).get(SPEC_METADATA) == digest

    def _subtitles(self, segment: Mapping[str, Any]) -> Path | None:
        if not segment["cues"]:
            return None
        # here, not at the top: the tts package imports edge-tts, which StartRenderer's Lambda never needs
        from manga2video.tts.subtitles import Cue, ass_document

        cues = [Cue(float(cue["start_s"]), float(cue["end_s"]), str(cue["text"])) for cue in segment["cues"]]
        path = self.workdir / "subtitles" / f"{segment['index']:03d}.ass"
        path.parent.mkdir(parents=True, exist_ok=True)
        document = ass_document(
            cues, width=self.manifest["width"], height=self.manifest["height"], font=self.manifest["font"]
        )
        path.write_text(document, encoding="utf-8")
        return path

    def produce(self, segment: Mapping[str, Any]) -> None:
        """Reuse the segment's checkpoint, or render it and checkpoint it at once."""
        if self._failed.is_set():
            return
        index = segment["index"]
        key = self.keys.render_segment(index)
        digest = segment_digest(self.manifest, segment)
        out = self.path_of(index)
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.runner.check()
            if self._checkpoint_matches(key, digest):
                self.storage.download_file(key, out)
                with self._lock:
                    self.reused.append(index)
                return
            command = ffmpeg.segment_command(
                self.manifest, segment, self.page_paths, out,
                subtitles=self._subtitles(segment), text_files=self.text_files, threads=self.threads,
            )  # fmt: skip
            self.runner.run(command, what=f"segment {index}")
            self.storage.s3.upload_file(
                str(out), self.storage.bucket, key, ExtraArgs={"Metadata": {SPEC_METADATA: digest}}
            )
        except BaseException:
            self._failed.set()  # start no more segments; those already running still finish
            raise
        with self._lock:
            self.rendered.append(index)
        logger.info("segment checkpointed", extra={"segment": index, "key": key})

    def produce_all(self) -> None:
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="segment") as pool:
            futures = [pool.submit(self.produce, segment) for segment in self.manifest["segments"]]
        for future in futures:
            future.result()  # the first failure, in segment order

    # --- the video ----------------------------------------------------------------------
    def mux(self, out: Path) -> None:
        listing = self.workdir / "segments.txt"
        listing.write_text(
            "".join(f"file '{self.path_of(segment['index'])}'\n" for segment in self.manifest["segments"]),
            encoding="utf-8",
        )
        scene_audio = []
        for segment in self.manifest["segments"][1:]:
            path = self.workdir / "audio" / f"{segment['index']:03d}.wav"
            self.storage.download_file(segment["audio_key"], path)
            scene_audio.append((path, segment["frames"]))
        self.runner.run(ffmpeg.mux_command(self.manifest, listing, scene_audio, out), what="joining and muxing")

    def thumbnail_time(self) -> float:
        chosen = self.manifest["thumbnail"]
        before = sum(segment["frames"] for segment in self.manifest["segments"][: chosen["segment"]])
        return before / self.manifest["fps"] + float(chosen["time_s"])


def render_job(job_id: str, services: Services, runner: FfmpegRunner, workdir: Path) -> dict[str, Any]:
    """Render the job's manifest into video.mp4 and thumbnail.jpg in S3; the worker's success output."""
    keys = JobKeys(job_id)
    timings: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = round(now - clock, 3)
        clock = now

    manifest = services.storage.get_json(keys.render_manifest)
    segments = SegmentRenderer(services, manifest, runner, workdir)
    segments.fetch_pages()
    lap("fetch_s")
    segments.produce_all()
    lap("segments_s")
    video = workdir / "video.mp4"
    segments.mux(video)
    lap("mux_s")
    duration = ffmpeg.check_video(
        video,
        width=manifest["width"],
        height=manifest["height"],
        fps=manifest["fps"],
        expected_s=manifest["frames"] / manifest["fps"],
    )
    thumbnail = workdir / "thumbnail.jpg"
    runner.run(ffmpeg.thumbnail_command(video, segments.thumbnail_time(), thumbnail), what="thumbnail")
    lap("check_s")
    runner.check()
    services.storage.upload_file(video, keys.video)
    services.storage.upload_file(thumbnail, keys.thumbnail)
    lap("upload_s")
    return {
        "video_key": keys.video,
        "thumbnail_key": keys.thumbnail,
        "duration_s": round(duration, 3),
        "segments_rendered": len(segments.rendered),
        "segments_reused": len(segments.reused),
        "timings": timings,
    }
