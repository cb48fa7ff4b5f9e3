"""StartUploader: the YouTube metadata of a rendered job, within YouTube's limits.

YouTube refuses a videos.insert whose title is over 100 characters, whose description is
over 5000 bytes, whose tags add up to more than 500 characters or which contains angle
brackets, and it would then have cost the insert's quota for nothing. So the limits are
enforced here, once, before any worker starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from manga2video.config import Settings
from manga2video.errors import JobStateError
from manga2video.observability import logger
from manga2video.services import Services
from manga2video.storage import JobKeys

TITLE_MAX_CHARS = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_CHARS = 500
PLAYLIST_TITLE_MAX_CHARS = 150
LANGUAGE = "vi"
ELLIPSIS = "…"

_ANGLE_BRACKETS = str.maketrans({"<": "‹", ">": "›"})
_SPACES = re.compile(r"[ \t\r\f\v]+")


def clean_text(text: str) -> str:
    """YouTube rejects `<` and `>` anywhere; the look-alike quotes keep the meaning."""
    lines = (_SPACES.sub(" ", line).strip() for line in str(text).translate(_ANGLE_BRACKETS).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clip_chars(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary where one is near, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-–|") + ELLIPSIS


def clip_bytes(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes (Vietnamese letters take two or three), never half a character."""
    if len(text.encode("utf-8")) <= limit:
        return text
    budget = limit - len(ELLIPSIS.encode("utf-8"))
    cut = text.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    line = cut.rfind("\n")
    if line > len(cut) // 2:
        cut = cut[:line]
    return cut.rstrip() + ELLIPSIS


def tag_length(tag: str) -> int:
    """YouTube counts a tag with a space as if it were quoted."""
    return len(tag) + 2 if " " in tag else len(tag)


def tags_length(tags: Iterable[str]) -> int:
    """The length YouTube checks against 500: the tags, their quotes and the commas between them."""
    tags = list(tags)
    return sum(tag_length(tag) for tag in tags) + max(len(tags) - 1, 0)


def fit_tags(candidates: Iterable[str], limit: int = TAGS_MAX_CHARS) -> list[str]:
    """The candidates in order, cleaned and de-duplicated, as many as fit within `limit`."""
    kept: list[str] = []
    seen: set[str] = set()
    for raw in candidates:
        tag = clean_text(str(raw)).replace("\n", " ").replace(",", " ").replace('"', "")
        tag = _SPACES.sub(" ", tag).strip()
        if not tag or tag.casefold() in seen:
            continue
        if tags_length([*kept, tag]) > limit:
            continue
        kept.append(tag)
        seen.add(tag.casefold())
    return kept


def chapter_label(job: Mapping[str, Any]) -> str:
    """'Comic – Chapter 12', the part of every title viewers search for."""
    comic = clean_text(job.get("comic_title") or job.get("comic_key") or "")
    chapter = clean_text(job.get("chapter_title") or "")
    return " – ".join(part for part in (comic, chapter) if part) or clean_text(job["job_id"])


def video_title(script: Mapping[str, Any], job: Mapping[str, Any]) -> str:
    label = chapter_label(job)
    headline = clean_text(script.get("title") or "").replace("\n", " ")
    if not headline or headline.casefold() == label.casefold():
        return clip_chars(label, TITLE_MAX_CHARS)
    if label.casefold() in headline.casefold():
        return clip_chars(headline, TITLE_MAX_CHARS)
    return clip_chars(f"{label}: {headline}", TITLE_MAX_CHARS)


def video_description(script: Mapping[str, Any], job: Mapping[str, Any]) -> str:
    """The script's description, then the comic and chapter, which survive a cut.

    No link to the source site: its domains change (dead links), and YouTube may treat a
    link to a scan site as spam.
    """
    footer = f"Truyện: {chapter_label(job)}"
    body = clean_text(script.get("description") or script.get("summary") or "")
    room = DESCRIPTION_MAX_BYTES - len(footer.encode("utf-8")) - 2
    return f"{clip_bytes(body, room)}\n\n{footer}" if body else footer


def video_tags(script: Mapping[str, Any], job: Mapping[str, Any]) -> list[str]:
    """The script's tags first, then the comic's name, so the comic is searchable whatever fits."""
    script_tags = script.get("tags") or []
    if isinstance(script_tags, str):
        script_tags = script_tags.split(",")
    extra = [job.get("comic_title") or "", "truyện tranh", "review truyện", "manga"]
    return fit_tags([*script_tags, *extra])


def build_metadata(script: Mapping[str, Any], job: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The videos.insert body, the comic's playlist and the files to upload, as one document."""
    keys = JobKeys(job["job_id"])
    title = video_title(script, job)
    comic = clean_text(job.get("comic_title") or job.get("comic_key") or "")
    return {
        "job_id": job["job_id"],
        "video_key": job.get("video_key") or keys.video,
        "thumbnail_key": job.get("thumbnail_key") or keys.thumbnail,
        "body": {
            "snippet": {
                "title": title,
                "description": video_description(script, job),
                "tags": video_tags(script, job),
                "categoryId": str(settings.youtube_category_id),
                "defaultLanguage": LANGUAGE,
                "defaultAudioLanguage": LANGUAGE,
            },
            "status": {
                "privacyStatus": settings.youtube_privacy,
                "selfDeclaredMadeForKids": bool(settings.youtube_made_for_kids),
                "embeddable": True,
            },
        },
        "playlist": {
            "title": clip_chars(comic or title, PLAYLIST_TITLE_MAX_CHARS),
            "comic_key": job.get("comic_key") or "",
            "privacy_status": settings.youtube_privacy,
        },
    }


def start_uploader(event: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """Write the upload metadata for a rendered job (also a deferred one taken back today)."""
    job_id = str(event["job_id"])
    job = services.jobs.get_in(job_id, {"rendered"}, why="only a rendered video can be uploaded")
    keys = JobKeys(job_id)
    metadata = build_metadata(services.storage.get_json(keys.script), job, services.settings)
    video_key = metadata["video_key"]
    if not services.storage.exists(video_key):
        raise JobStateError(f"job {job_id} is rendered but s3://{services.storage.bucket}/{video_key} is missing")
    if not services.storage.exists(metadata["thumbnail_key"]):
        logger.warning("no thumbnail rendered; YouTube will pick a frame", extra={"key": metadata["thumbnail_key"]})
        metadata["thumbnail_key"] = None
    services.storage.put_json(keys.upload_metadata, metadata)
    return {"metadata_key": keys.upload_metadata, "title": metadata["body"]["snippet"]["title"]}
