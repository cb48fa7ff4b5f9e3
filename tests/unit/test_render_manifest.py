"""The render manifest (pure) and the command lines built from it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from manga2video.config import Settings
from manga2video.errors import RenderError
from manga2video.render import ffmpeg
from manga2video.render.ffmpeg import filter_value, mux_command
from manga2video.render.manifest import build_manifest, split_frames
from manga2video.render.renderer import segment_digest

SETTINGS = Settings()


def job(*sizes: tuple[int, int]) -> dict:
    pages = [
        {"index": index, "key": f"jobs/j/pages/{index:03d}.jpg", "width": width, "height": height}
        for index, (width, height) in enumerate(sizes, start=1)
    ]
    return {"job_id": "j", "comic_title": "Truyện", "chapter_title": "Chương 1", "pages": pages}


def narration(*scenes: tuple[list[int], float]) -> dict:
    return {
        "sample_rate": 48000,
        "scenes": [
            {"index": number, "pages": pages, "audio_key": f"a/{number}.wav", "duration_s": seconds, "cues": []}
            for number, (pages, seconds) in enumerate(scenes, start=1)
        ],
    }


def test_segments_are_frame_exact_and_start_with_the_title_card():
    manifest = build_manifest(job((800, 1200), (800, 1200)), narration(([1], 2.5), ([2], 1.0 / 3)), SETTINGS)
    frames = [segment["frames"] for segment in manifest["segments"]]
    assert frames == [120, 75, 10]
    assert manifest["frames"] == sum(frames) and manifest["duration_s"] == pytest.approx(sum(frames) / 30)
    assert [segment["kind"] for segment in manifest["segments"]] == ["title", "scene", "scene"]
    assert all(sum(shot["frames"] for shot in s["shots"]) == s["frames"] for s in manifest["segments"])
    assert manifest["thumbnail"] == {"segment": 0, "time_s": 2.0}


def test_a_tall_strip_pans_and_shares_a_scene_by_its_length():
    manifest = build_manifest(
        job((800, 1200), (800, 9000)),
        narration(
            ([1, 2], 6.0),
        ),
        SETTINGS,
    )
    title, scene = manifest["segments"]
    assert title["shots"][0]["motion"] == "zoom"
    normal, strip = scene["shots"]
    assert (normal["motion"], strip["motion"]) == ("zoom", "pan")
    assert strip["frames"] > 3 * normal["frames"] and normal["frames"] + strip["frames"] == 180


def test_a_scene_without_pages_keeps_the_previous_page():
    manifest = build_manifest(job((800, 1200), (800, 1200)), narration(([2], 1.0), ([], 1.0)), SETTINGS)
    assert [shot["page"] for shot in manifest["segments"][2]["shots"]] == [2]


def test_a_scene_naming_an_unfetched_page_is_refused():
    with pytest.raises(RenderError, match=r"scene 1 names pages \[7\]"):
        build_manifest(
            job((800, 1200)),
            narration(
                ([7], 1.0),
            ),
            SETTINGS,
        )
    with pytest.raises(RenderError, match="no narrated scenes"):
        build_manifest(job((800, 1200)), {"scenes": []}, SETTINGS)


def test_split_frames_gives_every_share_a_frame_and_keeps_the_sum():
    assert split_frames(10, [1.0, 1.0, 8.0]) == [1, 1, 8]
    assert sum(split_frames(7, [1.0, 2.0, 3.0])) == 7
    assert min(split_frames(3, [100.0, 1.0, 1.0])) >= 1


def test_a_checkpoint_is_reused_only_for_the_same_plan(monkeypatch: pytest.MonkeyPatch):
    manifest = build_manifest(
        job((800, 1200)),
        narration(
            ([1], 1.0),
        ),
        SETTINGS,
    )
    segment = manifest["segments"][1]
    assert segment_digest(manifest, segment) == segment_digest(dict(manifest), dict(segment))
    assert segment_digest(manifest, segment) != segment_digest(manifest, {**segment, "frames": 31})
    sharper = build_manifest(
        job((800, 1200)),
        narration(
            ([1], 1.0),
        ),
        dataclasses.replace(SETTINGS, render_crf=20),
    )
    assert segment_digest(manifest, segment) != segment_digest(sharper, sharper["segments"][1])
    before = segment_digest(manifest, segment)
    monkeypatch.setattr(ffmpeg, "LOOK_VERSION", ffmpeg.LOOK_VERSION + 1)  # a renderer that draws differently
    assert segment_digest(manifest, segment) != before


def test_a_zoomed_page_keeps_its_aspect_in_its_fitted_box():
    assert ffmpeg.fitted_box(1000, 1500, 1920, 1080) == (720, 1080)  # a portrait page: the frame's height
    assert ffmpeg.fitted_box(3000, 1000, 1920, 1080) == (1920, 640)  # a wide spread: the frame's width
    width, height = ffmpeg.fitted_box(777, 1333, 1920, 1080)
    assert width % 2 == 0 and height % 2 == 0 and width / height == pytest.approx(777 / 1333, rel=0.005)


def test_the_narration_is_cut_to_each_segment_exactly():
    manifest = build_manifest(
        job((800, 1200)),
        narration(
            ([1], 2.0),
        ),
        SETTINGS,
    )
    command = " ".join(mux_command(manifest, Path("list.txt"), [(Path("a.wav"), 60)], Path("out.mp4")))
    assert "atrim=end_sample=192000[a0]" in command  # 4 s of title silence
    assert "apad=whole_len=96000,atrim=end_sample=96000[a1]" in command
    assert "-c:v copy" in command and "+faststart" in command


def test_filtergraph_values_are_quoted_and_unsafe_ones_refused():
    assert filter_value(Path("/tmp/render-job 1/001.ass")) == "'/tmp/render-job 1/001.ass'"
    assert filter_value("DejaVu Sans") == "'DejaVu Sans'"
    for unsafe in ("/tmp/a:b.ass", "it's", "x[1]", "a,b", "a;b", "a\\b"):
        with pytest.raises(RenderError, match="filtergraph"):
            filter_value(unsafe)
