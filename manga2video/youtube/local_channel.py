"""The local "channel": without YouTube credentials the video lands in a dated folder.

It lets the whole pipeline run offline end to end; it says so in a WARNING and on the job
(`fallbacks`), so nobody mistakes a local run for a published video.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from manga2video.fallbacks import record_fallback
from manga2video.jobs import pacific_date
from manga2video.services import Services

LOCAL_CHANNEL = "local channel"


def publish_locally(job: Mapping[str, Any], metadata: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """Copy video, thumbnail and metadata to {output_dir}/{pacific date}/{job_id}.mp4/.jpg/.json."""
    settings = services.settings
    job_id = str(job["job_id"])
    folder = Path(settings.output_dir) / pacific_date(timezone=settings.quota_timezone)
    video = folder / f"{job_id}.mp4"
    services.storage.download_file(metadata["video_key"], video)
    if metadata.get("thumbnail_key"):
        services.storage.download_file(metadata["thumbnail_key"], folder / f"{job_id}.jpg")
    (folder / f"{job_id}.json").write_text(json.dumps(metadata, ensure_ascii=False, indent=2), encoding="utf-8")
    record_fallback(
        services.jobs,
        job_id,
        LOCAL_CHANNEL,
        reason=f"no YouTube token (M2V_YOUTUBE_TOKEN_SSM_PARAMETER is not set): NOT on YouTube, written to {video}",
    )
    return {"video_id": f"local-{job_id}", "url": video.resolve().as_uri(), "channel": "local"}
