"""Where each artefact of a job lives in S3, and the few S3 operations every step uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class JobKeys:
    """The S3 layout of one job: everything under jobs/{job_id}/, so Cleanup is one prefix."""

    job_id: str

    @property
    def prefix(self) -> str:
        return f"jobs/{self.job_id}/"

    def page(self, index: int, ext: str = "jpg") -> str:
        """Pages are numbered from 1, in reading order: pages/001.jpg."""
        return f"{self.prefix}pages/{index:03d}.{ext}"

    @property
    def pages_prefix(self) -> str:
        return f"{self.prefix}pages/"

    def script_image(self, index: int) -> str:
        return f"{self.prefix}script-input/{index:03d}.jpg"

    @property
    def script_input(self) -> str:
        return f"{self.prefix}script-input/input.json"

    @property
    def script(self) -> str:
        return f"{self.prefix}script.json"

    def audio(self, scene: int) -> str:
        return f"{self.prefix}audio/{scene:03d}.wav"

    @property
    def narration(self) -> str:
        return f"{self.prefix}audio/narration.json"

    @property
    def subtitles(self) -> str:
        return f"{self.prefix}subtitles/subtitles.ass"

    @property
    def render_manifest(self) -> str:
        return f"{self.prefix}render/manifest.json"

    def render_segment(self, index: int) -> str:
        """A finished segment: the checkpoint a new Spot instance resumes from."""
        return f"{self.prefix}render/segments/{index:03d}.mp4"

    @property
    def video(self) -> str:
        return f"{self.prefix}video.mp4"

    @property
    def thumbnail(self) -> str:
        return f"{self.prefix}thumbnail.jpg"

    @property
    def upload_metadata(self) -> str:
        return f"{self.prefix}upload/metadata.json"

    @property
    def upload_session(self) -> str:
        """The resumable upload URI, saved as soon as YouTube creates it."""
        return f"{self.prefix}upload/session.json"


class Storage:
    """A thin layer over an S3 client bound to the media bucket."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def put_json(self, key: str, value: Any) -> None:
        body = json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")
        self.put_bytes(key, body, "application/json")

    def get_bytes(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def upload_file(self, path: Path | str, key: str) -> None:
        self.s3.upload_file(str(path), self.bucket, key)

    def download_file(self, key: str, path: Path | str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(self.bucket, key, str(path))

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def list_keys(self, prefix: str) -> list[tuple[str, int]]:
        """(key, size) for every object under prefix, in key order."""
        found: list[tuple[str, int]] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend((item["Key"], item["Size"]) for item in page.get("Contents", []))
        return sorted(found)

    def delete_prefix(self, prefix: str) -> tuple[int, int]:
        """Delete everything under prefix; returns (objects deleted, bytes freed)."""
        objects = self.list_keys(prefix)
        for start in range(0, len(objects), 1000):
            batch = objects[start : start + 1000]
            self.s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key, _ in batch], "Quiet": True},
            )
        return len(objects), sum(size for _, size in objects)
