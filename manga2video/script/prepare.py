"""PrepareScriptInput: the page images the model will read, cut and shrunk to fit its budget.

The model bills every image by its pixels (about w*h/750 tokens) and shrinks anything
bigger than ~1568 px on its long side, so a 700x15000 webtoon strip sent whole would
arrive as an unreadable 73x1568 sliver. Tall strips are therefore cut into portrait
tiles first; then, when a chapter has more tiles than the image budget, an even spread
of them (first and last always included) is sent.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from manga2video.errors import InvalidImageError, JobStateError
from manga2video.jobs import JobsStore
from manga2video.services import Services
from manga2video.storage import JobKeys

# A page taller than this many widths is a webtoon strip, cut into tiles...
TALL_PAGE_RATIO = 2.5
# ...each at most this many widths tall: about the shape of a printed page, readable once shrunk.
TILE_RATIO = 2.0
JPEG_QUALITY = 85
PIXELS_PER_TOKEN = 750
# Where a previous chapter's summary may be found: any status after GenerateScript.
SUMMARY_STATUSES = ("scripted", "voiced", "rendered", "upload_deferred", "uploaded", "cleaned", "failed")


@dataclass(frozen=True)
class View:
    """One image the model sees: a whole page, or one tile of a tall strip."""

    page: int
    part: int
    parts: int
    box: tuple[int, int, int, int]  # left, top, right, bottom in the page's pixels

    @property
    def label(self) -> str:
        return f"page {self.page}" if self.parts == 1 else f"page {self.page}, part {self.part} of {self.parts}"


def estimated_image_tokens(width: int, height: int) -> int:
    """Anthropic's published estimate of what an image costs in input tokens."""
    return math.ceil(width * height / PIXELS_PER_TOKEN)


def page_views(page: int, width: int, height: int) -> list[View]:
    """A page as the model should see it: whole, or cut into even portrait tiles if it is a tall strip."""
    if height <= TALL_PAGE_RATIO * width:
        return [View(page, 1, 1, (0, 0, width, height))]
    parts = math.ceil(height / (TILE_RATIO * width))
    edges = [round(height * part / parts) for part in range(parts + 1)]
    return [View(page, part + 1, parts, (0, edges[part], width, edges[part + 1])) for part in range(parts)]


def spread(views: Sequence[View], limit: int) -> list[View]:
    """At most `limit` views, evenly spread over the chapter, keeping the first and the last."""
    if limit < 1:
        raise ValueError(f"script_max_images must be at least 1, got {limit}")
    if len(views) <= limit:
        return list(views)
    if limit == 1:
        return [views[0]]
    picks = sorted({round(step * (len(views) - 1) / (limit - 1)) for step in range(limit)})
    return [views[index] for index in picks]


def fitted_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def render_view(page_image: Image.Image, view: View, max_side: int) -> tuple[bytes, tuple[int, int]]:
    """The view as a JPEG no longer than max_side, and its size."""
    tile = page_image.crop(view.box)
    tile = tile.resize(fitted_size(*tile.size, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    tile.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), tile.size


def open_page(data: bytes, page: int, key: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidImageError(f"page {page} ({key}) is not a readable image: {exc}") from exc
    return image.convert("RGB")


def job_pages(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The job's pages in reading order, checked to have what planning needs."""
    pages = sorted(job.get("pages") or [], key=lambda page: page.get("index", 0))
    if not pages:
        raise JobStateError(f"job {job['job_id']} has no pages to read")
    for page in pages:
        if not all(page.get(field) for field in ("index", "key", "width", "height")):
            raise JobStateError(f"job {job['job_id']} has a page record without index/key/width/height: {page}")
    return pages


def previous_summary(jobs: JobsStore, job: Mapping[str, Any]) -> dict[str, Any] | None:
    """The recap Claude wrote for the latest earlier chapter of the same comic, if any."""
    number = job.get("chapter_number")
    candidates = [
        other
        for status in SUMMARY_STATUSES
        for other in jobs.latest_for_comic(job["comic_key"], status=status)
        if other["job_id"] != job["job_id"]
        and other.get("script_summary")
        and (number is None or (other.get("chapter_number") is not None and other["chapter_number"] < number))
    ]
    if not candidates:
        return None
    latest = max(candidates, key=lambda other: (other.get("chapter_number") or 0, other.get("updated_at") or ""))
    return {
        "job_id": latest["job_id"],
        "chapter_title": latest.get("chapter_title", ""),
        "chapter_number": latest.get("chapter_number"),
        "summary": latest["script_summary"],
    }


def prepare_script_input(event: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """Store the chosen page images and an index of them, with the previous chapter's recap."""
    job_id = event["job_id"]
    settings = services.settings
    job = services.jobs.get_in(job_id, {"fetched", "scripted"}, why="its script input is made right after fetching")
    pages = job_pages(job)
    keys = JobKeys(job_id)
    views = [view for page in pages for view in page_views(page["index"], int(page["width"]), int(page["height"]))]
    chosen = spread(views, settings.script_max_images)
    page_keys = {page["index"]: page["key"] for page in pages}

    images: list[dict[str, Any]] = []
    current: tuple[int, Image.Image] | None = None
    for number, view in enumerate(chosen, start=1):
        if current is None or current[0] != view.page:
            key = page_keys[view.page]
            current = (view.page, open_page(services.storage.get_bytes(key), view.page, key))
        data, (width, height) = render_view(current[1], view, settings.script_image_max_side)
        services.storage.put_bytes(keys.script_image(number), data, "image/jpeg")
        images.append(
            {
                "index": number,
                "key": keys.script_image(number),
                "page": view.page,
                "part": view.part,
                "parts": view.parts,
                "label": view.label,
                "width": width,
                "height": height,
                "estimated_tokens": estimated_image_tokens(width, height),
            }
        )

    previous = previous_summary(services.jobs, job)
    index = {
        "job_id": job_id,
        "comic_title": job.get("comic_title", ""),
        "chapter_title": job.get("chapter_title", ""),
        "chapter_number": job.get("chapter_number"),
        "page_count": len(pages),
        "pages": [{"index": p["index"], "width": p["width"], "height": p["height"]} for p in pages],
        "views_total": len(views),
        "images": images,
        "estimated_image_tokens": sum(image["estimated_tokens"] for image in images),
        "previous": previous,
    }
    services.storage.put_json(keys.script_input, index)
    return {"key": keys.script_input, "image_count": len(images), "has_previous_summary": previous is not None}
