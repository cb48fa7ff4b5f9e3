"""YouTube's metadata limits, enforced before any quota is spent."""

from __future__ import annotations

import dataclasses

import pytest

from manga2video.config import Settings
from manga2video.youtube.metadata import (
    DESCRIPTION_MAX_BYTES,
    TAGS_MAX_CHARS,
    TITLE_MAX_CHARS,
    build_metadata,
    clip_bytes,
    fit_tags,
    tags_length,
)

JOB = {
    "job_id": "vo-luyen-dinh-phong-1001-8a17460a",
    "comic_key": "vo-luyen-dinh-phong",
    "comic_title": "Võ Luyện Đỉnh Phong",
    "chapter_title": "Chương 1001",
    "chapter_url": "https://nettruyen.example/truyen-tranh/vo-luyen-dinh-phong/chuong-1001/1001",
}


def metadata(script: dict, job: dict = JOB, settings: Settings | None = None) -> dict:
    return build_metadata(script, job, settings or Settings())


def every_text(document: dict) -> list[str]:
    snippet = document["body"]["snippet"]
    return [snippet["title"], snippet["description"], *snippet["tags"], document["playlist"]["title"]]


def test_long_title_is_cut_to_100_characters_at_a_word() -> None:
    title = metadata({"title": "Dương Khai " * 30})["body"]["snippet"]["title"]

    assert len(title) <= TITLE_MAX_CHARS and title.endswith("…")
    assert title.startswith("Võ Luyện Đỉnh Phong – Chương 1001: Dương Khai")
    assert not title.removesuffix("…").endswith(" Dươn"), "cut between words"


def test_title_repeats_nothing_the_script_already_says() -> None:
    title = metadata({"title": "Võ Luyện Đỉnh Phong – Chương 1001: Đại chiến"})["body"]["snippet"]["title"]

    assert title == "Võ Luyện Đỉnh Phong – Chương 1001: Đại chiến"
    assert metadata({})["body"]["snippet"]["title"] == "Võ Luyện Đỉnh Phong – Chương 1001"


def test_no_angle_brackets_anywhere() -> None:
    hostile_job = {**JOB, "comic_title": "<Comic>", "chapter_url": "https://x/<script>"}
    document = metadata(
        {"title": "<b>Trận</b> chiến", "description": "a <i>b</i> > c", "tags": ["<tag>", "a>b"]}, hostile_job
    )

    for text in every_text(document):
        assert "<" not in text and ">" not in text, text
    assert "‹b›Trận‹/b› chiến" in document["body"]["snippet"]["title"]


def test_description_fits_5000_bytes_of_vietnamese_and_keeps_the_chapter() -> None:
    text = "Chương truyện đầy kịch tính. " * 150
    assert len(text) < DESCRIPTION_MAX_BYTES < len(text.encode("utf-8")), "under the limit in characters, not bytes"

    description = metadata({"description": text})["body"]["snippet"]["description"]

    assert len(description.encode("utf-8")) <= DESCRIPTION_MAX_BYTES
    assert description.endswith("Truyện: Võ Luyện Đỉnh Phong – Chương 1001")
    assert "http" not in description, "no link to the source site"
    assert "…" in description


def test_clip_bytes_never_splits_a_character() -> None:
    clipped = clip_bytes("ệ" * 100, 50)  # three bytes each

    assert len(clipped.encode("utf-8")) <= 50
    assert set(clipped.removesuffix("…")) == {"ệ"}


def test_tags_with_spaces_count_their_quotes() -> None:
    assert tags_length(["manga", "truyện tranh"]) == len("manga") + len('"truyện tranh"') + 1


def test_tags_stop_at_500_characters_in_youtube_counting() -> None:
    candidates = [f"thẻ số {index}" for index in range(200)]

    tags = fit_tags(candidates)

    assert tags_length(tags) <= TAGS_MAX_CHARS
    assert tags_length([*tags, "thẻ số 999"]) > TAGS_MAX_CHARS, "as many as fit"
    assert sum(len(tag) for tag in tags) + len(tags) - 1 < TAGS_MAX_CHARS, "naive counting would have allowed more"


def test_tags_are_cleaned_and_deduplicated() -> None:
    tags = fit_tags(["Manga", "manga", " a,b ", "", '"quoted"', "x" * 600])

    assert tags == ["Manga", "a b", "quoted"]


def test_script_tags_come_first_and_the_comic_is_always_tagged() -> None:
    tags = metadata({"tags": ["võ hiệp", "tu tiên"]})["body"]["snippet"]["tags"]

    assert tags[:2] == ["võ hiệp", "tu tiên"] and "Võ Luyện Đỉnh Phong" in tags


@pytest.mark.parametrize("made_for_kids", [False, True])
def test_status_and_languages_come_from_configuration(made_for_kids: bool) -> None:
    settings = dataclasses.replace(
        Settings(), youtube_privacy="unlisted", youtube_category_id="1", youtube_made_for_kids=made_for_kids
    )

    body = metadata({"title": "t"}, settings=settings)["body"]

    assert body["status"]["selfDeclaredMadeForKids"] is made_for_kids
    assert body["status"]["privacyStatus"] == "unlisted"
    assert body["snippet"]["categoryId"] == "1"
    assert body["snippet"]["defaultLanguage"] == body["snippet"]["defaultAudioLanguage"] == "vi"


def test_playlist_is_the_comic() -> None:
    document = metadata({"title": "t"})

    assert document["playlist"]["title"] == "Võ Luyện Đỉnh Phong"
    assert document["video_key"] == f"jobs/{JOB['job_id']}/video.mp4"
    assert document["thumbnail_key"] == f"jobs/{JOB['job_id']}/thumbnail.jpg"
