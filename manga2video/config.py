"""Every setting of the pipeline, read from the environment once, in one place.

Defaults run the whole pipeline locally and offline; on AWS, Terraform sets the
variables below on each Lambda function and in each worker's user-data.
Add a setting here, in its section, rather than reading os.environ elsewhere.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name} must be a whole number, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name} must be a number, got {raw!r}") from exc


def _list(env: Mapping[str, str], name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _json_ints(env: Mapping[str, str], name: str, default: Mapping[str, int]) -> dict[str, int]:
    raw = env.get(name, "").strip()
    if not raw:
        return dict(default)
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"setting {name} must be a JSON object, got {raw!r}") from exc
    return {**default, **{str(key): int(value) for key, value in parsed.items()}}


# YouTube Data API v3 unit costs; they changed in 2025-26, so they are configuration.
DEFAULT_YOUTUBE_QUOTA_COSTS = {
    "videos.insert": 100,
    "thumbnails.set": 50,
    "playlists.list": 1,
    "playlists.insert": 50,
    "playlistItems.insert": 50,
}


@dataclass(frozen=True)
class Settings:
    # --- AWS resources -----------------------------------------------------------
    region: str = "us-east-1"
    jobs_table: str = "manga2video-jobs"
    counters_table: str = "manga2video-counters"
    media_bucket: str = "manga2video-media"
    alert_topic_arn: str = ""
    # --- the day's loop ---------------------------------------------------------
    daily_quota: int = 3
    # attempts per execution before the loop gives up, even if every video fails
    max_attempts: int = 9
    quota_timezone: str = "America/Los_Angeles"
    counter_ttl_days: int = 35
    # a claimed chapter is free again once its lease lapses (crashed run)
    claim_lease_seconds: int = 6 * 3600
    max_chapter_failures: int = 3
    # --- source (NetTruyen) -------------------------------------------------------
    source_base_url: str = "http://127.0.0.1:8765"
    source_fallback_urls: tuple[str, ...] = ()
    follow_list: tuple[str, ...] = ()
    source_timeout_seconds: float = 20.0
    source_retries: int = 3
    source_backoff_seconds: float = 1.0
    image_max_bytes: int = 15 * 1024 * 1024
    image_max_pixels: int = 60_000_000
    download_concurrency: int = 4
    # --- script (Claude) ---------------------------------------------------------
    anthropic_api_key: str = ""
    anthropic_base_url: str = ""
    anthropic_model: str = "claude-sonnet-5"
    anthropic_max_retries: int = 4
    anthropic_ssm_parameter: str = ""
    script_language: str = "vi"
    script_tone: str = "kể chuyện hấp dẫn, gần gũi"
    script_max_images: int = 20
    script_image_max_side: int = 1568
    # --- voice (edge-tts) ----------------------------------------------------------
    tts_voice: str = "vi-VN-HoaiMyNeural"
    tts_fallback_voice: str = "vi-VN-NamMinhNeural"
    tts_rate: str = "+0%"
    tts_engine: str = "auto"  # auto | edge | espeak | silence
    # --- render ------------------------------------------------------------------
    video_width: int = 1920
    video_height: int = 1080
    video_fps: int = 30
    render_crf: int = 23
    render_preset: str = "veryfast"
    # ffmpeg processes at once, each with cores/parallel x264 threads; 1 keeps a 1080p render under 400 MB
    render_parallel_segments: int = 1
    subtitle_font: str = "DejaVu Sans"
    # --- workers and their launch ---------------------------------------------------
    launch_backend: str = "local"  # local | ec2
    renderer_launch_template: str = ""
    uploader_launch_template: str = ""
    worker_heartbeat_seconds: float = 60.0
    spot_poll_seconds: float = 5.0
    imds_endpoint: str = "http://169.254.169.254"
    # --- upload (YouTube) ----------------------------------------------------------
    youtube_token_ssm_parameter: str = ""
    youtube_client_secrets_file: str = ""
    youtube_root_url: str = ""
    youtube_token_uri: str = "https://oauth2.googleapis.com/token"
    youtube_privacy: str = "private"
    youtube_category_id: str = "24"
    youtube_made_for_kids: bool = False
    youtube_chunk_bytes: int = 8 * 1024 * 1024
    youtube_quota_costs: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_YOUTUBE_QUOTA_COSTS))
    # --- local mode ----------------------------------------------------------------
    local_state_dir: str = ".local-state"
    output_dir: str = "output"
    # what an hour of each Spot worker costs: the job's recorded cost and the local run's estimate
    spot_usd_per_hour: float = 0.12  # the renderer (a c6i.2xlarge-class instance)
    uploader_spot_usd_per_hour: float = 0.01  # the uploader (a t3.small-class instance)

    def worker_usd_per_hour(self, kind: str) -> float:
        return self.uploader_spot_usd_per_hour if kind == "uploader" else self.spot_usd_per_hour


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build settings from an environment mapping (tests pass their own)."""
    base = Settings()
    return Settings(
        region=_text(env, "AWS_REGION", _text(env, "AWS_DEFAULT_REGION", base.region)),
        jobs_table=_text(env, "M2V_JOBS_TABLE", base.jobs_table),
        counters_table=_text(env, "M2V_COUNTERS_TABLE", base.counters_table),
        media_bucket=_text(env, "M2V_MEDIA_BUCKET", base.media_bucket),
        alert_topic_arn=_text(env, "M2V_ALERT_TOPIC_ARN", base.alert_topic_arn),
        daily_quota=_int(env, "M2V_DAILY_QUOTA", base.daily_quota),
        max_attempts=_int(env, "M2V_MAX_ATTEMPTS", base.max_attempts),
        quota_timezone=_text(env, "M2V_QUOTA_TIMEZONE", base.quota_timezone),
        counter_ttl_days=_int(env, "M2V_COUNTER_TTL_DAYS", base.counter_ttl_days),
        claim_lease_seconds=_int(env, "M2V_CLAIM_LEASE_SECONDS", base.claim_lease_seconds),
        max_chapter_failures=_int(env, "M2V_MAX_CHAPTER_FAILURES", base.max_chapter_failures),
        source_base_url=_text(env, "M2V_SOURCE_BASE_URL", base.source_base_url),
        source_fallback_urls=_list(env, "M2V_SOURCE_FALLBACK_URLS"),
        follow_list=_list(env, "M2V_FOLLOW_LIST"),
        source_timeout_seconds=_float(env, "M2V_SOURCE_TIMEOUT_SECONDS", base.source_timeout_seconds),
        source_retries=_int(env, "M2V_SOURCE_RETRIES", base.source_retries),
        source_backoff_seconds=_float(env, "M2V_SOURCE_BACKOFF_SECONDS", base.source_backoff_seconds),
        image_max_bytes=_int(env, "M2V_IMAGE_MAX_BYTES", base.image_max_bytes),
        image_max_pixels=_int(env, "M2V_IMAGE_MAX_PIXELS", base.image_max_pixels),
        download_concurrency=_int(env, "M2V_DOWNLOAD_CONCURRENCY", base.download_concurrency),
        anthropic_api_key=_text(env, "ANTHROPIC_API_KEY", base.anthropic_api_key),
        anthropic_base_url=_text(env, "ANTHROPIC_BASE_URL", base.anthropic_base_url),
        anthropic_model=_text(env, "M2V_ANTHROPIC_MODEL", base.anthropic_model),
        anthropic_max_retries=_int(env, "M2V_ANTHROPIC_MAX_RETRIES", base.anthropic_max_retries),
        anthropic_ssm_parameter=_text(env, "M2V_ANTHROPIC_SSM_PARAMETER", base.anthropic_ssm_parameter),
        script_language=_text(env, "M2V_SCRIPT_LANGUAGE", base.script_language),
        script_tone=_text(env, "M2V_SCRIPT_TONE", base.script_tone),
        script_max_images=_int(env, "M2V_SCRIPT_MAX_IMAGES", base.script_max_images),
        script_image_max_side=_int(env, "M2V_SCRIPT_IMAGE_MAX_SIDE", base.script_image_max_side),
        tts_voice=_text(env, "M2V_TTS_VOICE", base.tts_voice),
        tts_fallback_voice=_text(env, "M2V_TTS_FALLBACK_VOICE", base.tts_fallback_voice),
        tts_rate=_text(env, "M2V_TTS_RATE", base.tts_rate),
        tts_engine=_text(env, "M2V_TTS_ENGINE", base.tts_engine),
        video_width=_int(env, "M2V_VIDEO_WIDTH", base.video_width),
        video_height=_int(env, "M2V_VIDEO_HEIGHT", base.video_height),
        video_fps=_int(env, "M2V_VIDEO_FPS", base.video_fps),
        render_crf=_int(env, "M2V_RENDER_CRF", base.render_crf),
        render_preset=_text(env, "M2V_RENDER_PRESET", base.render_preset),
        render_parallel_segments=_int(env, "M2V_RENDER_PARALLEL_SEGMENTS", base.render_parallel_segments),
        subtitle_font=_text(env, "M2V_SUBTITLE_FONT", base.subtitle_font),
        launch_backend=_text(env, "M2V_LAUNCH_BACKEND", base.launch_backend),
        renderer_launch_template=_text(env, "M2V_RENDERER_LAUNCH_TEMPLATE", base.renderer_launch_template),
        uploader_launch_template=_text(env, "M2V_UPLOADER_LAUNCH_TEMPLATE", base.uploader_launch_template),
        worker_heartbeat_seconds=_float(env, "M2V_WORKER_HEARTBEAT_SECONDS", base.worker_heartbeat_seconds),
        spot_poll_seconds=_float(env, "M2V_SPOT_POLL_SECONDS", base.spot_poll_seconds),
        imds_endpoint=_text(env, "M2V_IMDS_ENDPOINT", base.imds_endpoint),
        youtube_token_ssm_parameter=_text(env, "M2V_YOUTUBE_TOKEN_SSM_PARAMETER", base.youtube_token_ssm_parameter),
        youtube_client_secrets_file=_text(env, "M2V_YOUTUBE_CLIENT_SECRETS_FILE", base.youtube_client_secrets_file),
        youtube_root_url=_text(env, "M2V_YOUTUBE_ROOT_URL", base.youtube_root_url),
        youtube_token_uri=_text(env, "M2V_YOUTUBE_TOKEN_URI", base.youtube_token_uri),
        youtube_privacy=_text(env, "M2V_YOUTUBE_PRIVACY", base.youtube_privacy),
        youtube_category_id=_text(env, "M2V_YOUTUBE_CATEGORY_ID", base.youtube_category_id),
        youtube_made_for_kids=_text(env, "M2V_YOUTUBE_MADE_FOR_KIDS", "false").lower() in {"1", "true", "yes"},
        youtube_chunk_bytes=_int(env, "M2V_YOUTUBE_CHUNK_BYTES", base.youtube_chunk_bytes),
        youtube_quota_costs=_json_ints(env, "M2V_YOUTUBE_QUOTA_COSTS", DEFAULT_YOUTUBE_QUOTA_COSTS),
        local_state_dir=_text(env, "M2V_LOCAL_STATE_DIR", base.local_state_dir),
        output_dir=_text(env, "M2V_OUTPUT_DIR", base.output_dir),
        spot_usd_per_hour=_float(env, "M2V_SPOT_USD_PER_HOUR", base.spot_usd_per_hour),
        uploader_spot_usd_per_hour=_float(env, "M2V_UPLOADER_SPOT_USD_PER_HOUR", base.uploader_spot_usd_per_hour),
    )


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read from os.environ on first use."""
    return load_settings(os.environ)
