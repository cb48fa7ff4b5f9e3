"""StartRenderer: turn a voiced job into a render manifest, one segment per scene.

The manifest is the worker's whole plan, so a Spot instance that takes over a render
needs nothing else: segment 0 is the title card, segment i is scene i. Each segment is
frame-exact (its narration WAV is padded to whole frames), so the joined video and the
narration track line up without drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from manga2video.config import Settings
from manga2video.errors import RenderError
from manga2video.services import Services
from manga2video.storage import JobKeys

MANIFEST_VERSION = 1
TITLE_SECONDS = 4.0
FADE_SECONDS = 0.4
# A page at least this many times taller than wide is a webtoon strip: panned, not zoomed.
STRIP_ASPECT = 2.2
# A strip is shown this wide (a fraction of the frame width), a full frame tall.
STRIP_VIEW_FRACTION = 0.47
ZOOM_RANGE = (1.0, 1.08)


def frames_for(seconds: float, fps: int) -> int:
    return max(1, round(seconds * fps))


def motion_of(width: int, height: int) -> str:
    """A tall strip is panned down so it is never squashed; any other page slowly zooms."""
    return "pan" if height >= STRIP_ASPECT * width else "zoom"


def strip_view_width(frame_width: int) -> int:
    return 2 * round(frame_width * STRIP_VIEW_FRACTION / 2)


def _screens(page: Mapping[str, Any], settings: Settings) -> float:
    """How many frame-heights of picture a page holds: a long strip deserves more time."""
    if motion_of(page["width"], page["height"]) == "zoom":
        return 1.0
    shown_height = page["height"] * strip_view_width(settings.video_width) / page["width"]
    return max(1.0, shown_height / settings.video_height)


def split_frames(total: int, weights: Sequence[float]) -> list[int]:
    """Share `total` frames (at least one per weight) by weight, each share at least one frame, the sum exact."""
    shares = [max(1, int(total * weight / sum(weights))) for weight in weights]
    while sum(shares) > total:  # the one-frame minimums overdrew: take back from the largest share
        shares[shares.index(max(shares))] -= 1
    shares[weights.index(max(weights))] += total - sum(shares)
    return shares


def _shots(
    pages: Sequence[Mapping[str, Any]], frames: int, settings: Settings, first_shot: int, *, still: bool = False
) -> list[dict]:
    """`still` asks for a zoom whatever the page's shape (the title card's backdrop)."""
    pages = list(pages)[:frames]  # a page needs at least one frame
    shares = split_frames(frames, [_screens(page, settings) for page in pages])
    shots = []
    for offset, (page, share) in enumerate(zip(pages, shares, strict=True)):
        motion = "zoom" if still else motion_of(page["width"], page["height"])
        zoom = ZOOM_RANGE if (first_shot + offset) % 2 == 0 else ZOOM_RANGE[::-1]  # alternate in and out
        shots.append(
            {
                "page": int(page["index"]),
                "key": page["key"],
                "width": int(page["width"]),
                "height": int(page["height"]),
                "motion": motion,
                "zoom": list(zoom) if motion == "zoom" else None,
                "frames": share,
            }
        )
    return shots


def build_manifest(job: Mapping[str, Any], narration: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The render plan for a job whose narration is ready (pure: no I/O)."""
    fps = settings.video_fps
    pages = {int(page["index"]): page for page in job.get("pages") or []}
    if not pages:
        raise RenderError(f"job {job['job_id']} has no pages to render")
    fade = frames_for(FADE_SECONDS, fps)
    title_frames = frames_for(TITLE_SECONDS, fps)
    first_page = pages[min(pages)]
    segments: list[dict[str, Any]] = [
        {
            "index": 0,
            "kind": "title",
            "frames": title_frames,
            "duration_s": title_frames / fps,
            "audio_key": None,
            "fade_frames": fade,
            "cues": [],
            "text": {"comic": job.get("comic_title", ""), "chapter": job.get("chapter_title", "")},
            "shots": _shots([first_page], title_frames, settings, 0, still=True),
        }
    ]
    shot_count = 1
    previous = [first_page]
    for position, scene in enumerate(narration.get("scenes") or [], start=1):
        missing = [number for number in scene.get("pages") or [] if int(number) not in pages]
        if missing:
            raise RenderError(f"scene {scene.get('index', position)} names pages {missing} that job has not fetched")
        scene_pages = [pages[int(number)] for number in scene.get("pages") or []] or previous[-1:]
        frames = frames_for(float(scene["duration_s"]), fps)
        shots = _shots(scene_pages, frames, settings, shot_count)
        shot_count += len(shots)
        previous = scene_pages
        segments.append(
            {
                "index": position,
                "kind": "scene",
                "scene": int(scene.get("index", position)),
                "frames": frames,
                "duration_s": frames / fps,
                "audio_key": scene["audio_key"],
                "fade_frames": min(fade, frames // 4),
                "cues": [dict(cue) for cue in scene.get("cues") or []],
                "shots": shots,
            }
        )
    if len(segments) == 1:
        raise RenderError(f"job {job['job_id']} has no narrated scenes to render")
    total_frames = sum(segment["frames"] for segment in segments)
    return {
        "version": MANIFEST_VERSION,
        "job_id": job["job_id"],
        "width": settings.video_width,
        "height": settings.video_height,
        "fps": fps,
        "crf": settings.render_crf,
        "preset": settings.render_preset,
        "font": settings.subtitle_font,
        "sample_rate": int(narration.get("sample_rate", 48000)),
        "frames": total_frames,
        "duration_s": total_frames / fps,
        "segments": segments,
        # the title card: comic and chapter over the first page, the likeliest cover
        "thumbnail": {"segment": 0, "time_s": round(title_frames / fps / 2, 3)},
    }


def start_renderer(event: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """StartRenderer: write the manifest; the worker launched next renders from it alone."""
    job_id = str(event["job_id"])
    keys = JobKeys(job_id)
    job = services.jobs.get(job_id)
    narration = services.storage.get_json(keys.narration)
    manifest = build_manifest(job, narration, services.settings)
    services.storage.put_json(keys.render_manifest, manifest)
    return {
        "manifest_key": keys.render_manifest,
        "segments": len(manifest["segments"]),
        "duration_s": round(manifest["duration_s"], 3),
    }
