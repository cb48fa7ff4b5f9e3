"""The script's shape: the tool schema the model must fill, and the checks its answer must pass.

The same checks run on the offline narrator's script, so script.json always has one shape:
{"title", "description", "tags", "language", "narrator", "model", "scenes": [{"index",
"pages", "narration"}], "summary"}.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from manga2video.youtube.metadata import TITLE_MAX_CHARS, clip_chars, fit_tags

TOOL_NAME = "write_script"
MAX_DESCRIPTION_CHARS = 4500  # YouTube allows 5000; the uploader may add a footer
MAX_TAGS_CHARS = 450  # YouTube allows 500 in all
MAX_SCENES = 80


def tool_definition(page_count: int) -> dict[str, Any]:
    """The one tool the model is made to call; its input is the whole script."""
    return {
        "name": TOOL_NAME,
        "description": "Hand in the narration script of the chapter, scene by scene in reading order.",
        "input_schema": {
            "type": "object",
            "properties": {
                "title": {"type": "string", "description": "Video title with comic name and chapter, <= 90 chars."},
                "description": {"type": "string", "description": "Video description, 2-4 sentences, no links."},
                "tags": {"type": "array", "items": {"type": "string"}, "description": "5-12 short search keywords."},
                "scenes": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_SCENES,
                    "items": {
                        "type": "object",
                        "properties": {
                            "pages": {
                                "type": "array",
                                "minItems": 1,
                                "items": {"type": "integer", "minimum": 1, "maximum": page_count},
                                "description": "Page numbers this scene narrates, ascending.",
                            },
                            "narration": {"type": "string", "description": "What the voice reads for this scene."},
                        },
                        "required": ["pages", "narration"],
                    },
                },
                "summary": {"type": "string", "description": "2-3 sentence recap for the next chapter."},
            },
            "required": ["title", "description", "tags", "scenes", "summary"],
        },
    }


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _tags(value: Any) -> list[str]:
    """The model's keywords without hashtag signs, within the budget, by YouTube's own rules."""
    return fit_tags((_text(raw).strip("#") for raw in value if isinstance(raw, str)), MAX_TAGS_CHARS)


def scene_problems(scenes: Any, page_count: int) -> list[str]:
    if not isinstance(scenes, list) or not scenes:
        return ["scenes must be a non-empty list"]
    if len(scenes) > MAX_SCENES:
        return [f"at most {MAX_SCENES} scenes, got {len(scenes)}"]
    problems = []
    previous_start = 1
    for number, scene in enumerate(scenes, start=1):
        if not isinstance(scene, Mapping):
            problems.append(f"scene {number} must be an object with pages and narration")
            continue
        if not _text(scene.get("narration")):
            problems.append(f"scene {number} has no narration")
        pages = scene.get("pages")
        if not isinstance(pages, list) or not pages:
            problems.append(f"scene {number} must list at least one page number")
            continue
        bad = [page for page in pages if isinstance(page, bool) or not isinstance(page, int)]
        bad += [page for page in pages if isinstance(page, int) and not 1 <= page <= page_count]
        if bad:
            problems.append(f"scene {number} has page numbers outside 1..{page_count}: {bad}")
            continue
        if min(pages) < previous_start:
            problems.append(f"scene {number} starts on page {min(pages)}, before the scene ahead of it")
        previous_start = min(pages)
    return problems


def script_problems(answer: Any, page_count: int) -> list[str]:
    """What is wrong with a tool answer, in words the model can act on; empty when usable."""
    if not isinstance(answer, Mapping):
        return ["the tool input must be a JSON object"]
    problems = [f"{field} must be a non-empty string" for field in ("title", "summary") if not _text(answer.get(field))]
    if not isinstance(answer.get("description"), str):
        problems.append("description must be a string")
    if not isinstance(answer.get("tags"), list):
        problems.append("tags must be a list of strings")
    return problems + scene_problems(answer.get("scenes"), page_count)


def covering_pages(starts: list[int], page_count: int) -> list[list[int]]:
    """Each scene's pages, from its first page to the page before the next scene's first.

    Every page of the chapter then belongs to a scene and is shown in the video, including
    pages the model did not see or skipped; scenes that start on the same page share it.
    """
    starts = [1, *starts[1:]]
    ends = [max(start, following - 1) for start, following in itertools.pairwise(starts)] + [page_count]
    return [list(range(start, max(start, end) + 1)) for start, end in zip(starts, ends, strict=True)]


def build_script(
    answer: Mapping[str, Any], *, page_count: int, language: str, narrator: str, model: str
) -> dict[str, Any]:
    """script.json from an answer that passed script_problems."""
    scenes = answer["scenes"]
    pages = covering_pages([min(scene["pages"]) for scene in scenes], page_count)
    return {
        "title": clip_chars(_text(answer["title"]), TITLE_MAX_CHARS),
        "description": clip_chars(answer["description"].strip(), MAX_DESCRIPTION_CHARS),
        "tags": _tags(answer["tags"]),
        "language": language,
        "narrator": narrator,
        "model": model,
        "scenes": [
            {"index": number, "pages": scene_pages, "narration": _text(scene["narration"])}
            for number, (scene, scene_pages) in enumerate(zip(scenes, pages, strict=True), start=1)
        ],
        "summary": _text(answer["summary"]),
    }
