"""PrepareScriptInput and GenerateScript against moto and a fake Anthropic API on loopback."""

from __future__ import annotations

import base64
import dataclasses
import io
from typing import Any

import pytest
from PIL import Image

from manga2video.config import Settings
from manga2video.errors import ScriptGenerationError
from manga2video.jobs import Chapter
from manga2video.script import generate_script, prepare_script_input
from manga2video.script.claude import PRICES_PER_MTOK
from manga2video.services import Services
from manga2video.storage import JobKeys
from tests.fakes import anthropic_server as fake

# Distinct colours, so a test can tell which part of a page an image shows.
COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40), (40, 220, 220), (220, 40, 220)]
# Pinned, so the expected prices do not move when the configured default model does.
MODEL = "claude-sonnet-5"


def jpeg(width: int, height: int, bands: int = 1) -> bytes:
    """A page of `bands` horizontal colour bands, top to bottom."""
    image = Image.new("RGB", (width, height))
    for band in range(bands):
        box = (0, height * band // bands, width, height * (band + 1) // bands)
        image.paste(COLOURS[band % len(COLOURS)], box)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def seed_job(
    services: Services, sizes: list[tuple[int, int, int]], *, chapter_number: float = 2.0, comic: str = "hon-nhan"
) -> str:
    """A fetched job with its pages in S3, as FetchManga leaves it; sizes are (width, height, bands)."""
    chapter = Chapter(
        chapter_key=f"{comic}/{int(chapter_number)}",
        comic_key=comic,
        comic_title="Hôn Nhân Hạnh Phúc Của Tôi",
        chapter_title=f"Chương {int(chapter_number)}",
        chapter_url=f"http://127.0.0.1/truyen/{comic}/chap-{int(chapter_number)}",
        chapter_number=chapter_number,
    )
    job = services.jobs.claim_chapter(chapter, owner="test", lease_seconds=3600, max_failures=3)
    assert job is not None
    keys = JobKeys(job["job_id"])
    pages = []
    for index, (width, height, bands) in enumerate(sizes, start=1):
        services.storage.put_bytes(keys.page(index), jpeg(width, height, bands), "image/jpeg")
        pages.append({"index": index, "key": keys.page(index), "width": width, "height": height})
    services.jobs.transition(job["job_id"], "fetched", pages=pages, page_count=len(pages))
    return job["job_id"]


def with_settings(services: Services, **changes: Any) -> Services:
    return Services(dataclasses.replace(services.settings, **changes))


def claude_services(services: Services, server: fake.FakeAnthropic, **changes: Any) -> Services:
    defaults = {
        "anthropic_api_key": "sk-ant-test",
        "anthropic_base_url": server.url,
        "anthropic_max_retries": 2,
        "anthropic_model": MODEL,
    }
    return with_settings(services, **{**defaults, **changes})


def good_script(page_starts: list[int]) -> dict[str, Any]:
    return {
        "title": "Hôn Nhân Hạnh Phúc Của Tôi - Chương 2: Lời hứa",
        "description": "Miyo gặp lại gia đình cũ. Kiyoka bảo vệ cô.",
        "tags": ["hôn nhân hạnh phúc", "manga", "Miyo", "manga"],
        "scenes": [
            {"pages": [start], "narration": f"Cảnh {number}: Miyo bước vào căn phòng lạnh lẽo."}
            for number, start in enumerate(page_starts, start=1)
        ],
        "summary": "Miyo đối mặt với quá khứ và tìm được chỗ dựa nơi Kiyoka.",
    }


def sent_images(request: fake.Recorded) -> list[Image.Image]:
    blocks = request.body["messages"][0]["content"]
    return [
        Image.open(io.BytesIO(base64.b64decode(block["source"]["data"])))
        for block in blocks
        if block["type"] == "image"
    ]


def sent_key(request: fake.Recorded) -> str:
    """The API key as the SDK sent it (this SDK version sends a bearer token, older ones x-api-key)."""
    return request.headers.get("x-api-key") or request.headers["authorization"].removeprefix("Bearer ")


def price(input_tokens: int, output_tokens: int, model: str = MODEL) -> float:
    price_in, price_out = PRICES_PER_MTOK[model]
    return (input_tokens * price_in + output_tokens * price_out) / 1_000_000


# --- PrepareScriptInput ---------------------------------------------------------------


def test_prepare_cuts_a_tall_strip_into_readable_tiles(services: Services) -> None:
    services = with_settings(services, script_image_max_side=256, script_max_images=20)
    # a normal page, then a 200x1600 webtoon strip of four colour bands
    job_id = seed_job(services, [(400, 600, 1), (200, 1600, 4)])

    result = prepare_script_input({"job_id": job_id}, services)

    index = services.storage.get_json(result["key"])
    assert result == {"key": JobKeys(job_id).script_input, "image_count": 5, "has_previous_summary": False}
    assert [(image["page"], image["part"], image["parts"]) for image in index["images"]] == [
        (1, 1, 1),
        (2, 1, 4),
        (2, 2, 4),
        (2, 3, 4),
        (2, 4, 4),
    ]
    for image in index["images"]:
        stored = Image.open(io.BytesIO(services.storage.get_bytes(image["key"])))
        assert stored.size == (image["width"], image["height"])
        assert max(stored.size) <= 256
        assert image["estimated_tokens"] == -(-stored.size[0] * stored.size[1] // 750)
    # each tile shows its own band of the strip, at a readable shape rather than a 32x256 sliver
    for band, image in enumerate(index["images"][1:]):
        stored = Image.open(io.BytesIO(services.storage.get_bytes(image["key"]))).convert("RGB")
        assert stored.size == (128, 256)
        centre = stored.getpixel((stored.size[0] // 2, stored.size[1] // 2))
        assert all(abs(got - want) < 30 for got, want in zip(centre, COLOURS[band], strict=True))


def test_prepare_spreads_the_image_budget_over_the_chapter(services: Services) -> None:
    services = with_settings(services, script_max_images=3, script_image_max_side=128)
    job_id = seed_job(services, [(300, 450, 1)] * 7)

    result = prepare_script_input({"job_id": job_id}, services)

    index = services.storage.get_json(result["key"])
    assert result["image_count"] == 3
    assert [image["page"] for image in index["images"]] == [1, 4, 7]
    assert index["views_total"] == 7


def test_prepare_adds_the_previous_chapters_summary(services: Services) -> None:
    earlier = seed_job(services, [(300, 450, 1)], chapter_number=1)
    services.jobs.transition(earlier, "scripted", script_summary="Miyo rời khỏi nhà Saimori.")
    later = seed_job(services, [(300, 450, 1)], chapter_number=3)
    services.jobs.transition(later, "scripted", script_summary="Chuyện của chương sau, chưa được kể.")
    other_comic = seed_job(services, [(300, 450, 1)], chapter_number=1, comic="truyen-khac")
    services.jobs.transition(other_comic, "scripted", script_summary="Một truyện khác.")
    job_id = seed_job(services, [(300, 450, 1)], chapter_number=2)

    result = prepare_script_input({"job_id": job_id}, services)

    assert result["has_previous_summary"] is True
    previous = services.storage.get_json(result["key"])["previous"]
    assert previous["summary"] == "Miyo rời khỏi nhà Saimori."
    assert previous["job_id"] == earlier


# --- GenerateScript with Claude --------------------------------------------------------


def test_a_good_tool_answer_becomes_script_json(services: Services) -> None:
    with fake.serve([fake.tool_answer(good_script([1, 3]), input_tokens=15000, output_tokens=1200)]) as server:
        services = claude_services(services, server, script_max_images=4, script_image_max_side=200)
        job_id = seed_job(services, [(300, 450, 1), (300, 450, 1), (300, 450, 1), (200, 1000, 2), (300, 450, 1)])
        prepare_script_input({"job_id": job_id}, services)

        result = generate_script({"job_id": job_id}, services)

    script = services.storage.get_json(JobKeys(job_id).script)
    assert result == {"key": JobKeys(job_id).script, "scene_count": 2, "title": script["title"], "narrator": "claude"}
    assert script["narrator"] == "claude" and script["model"] == services.settings.anthropic_model
    assert script["language"] == "vi"
    # every page belongs to a scene: the second scene runs from its first page to the end
    assert [scene["pages"] for scene in script["scenes"]] == [[1, 2], [3, 4, 5]]
    assert script["tags"] == ["hôn nhân hạnh phúc", "manga", "Miyo"]
    job = services.jobs.get(job_id)
    assert job["status"] == "scripted"
    assert job["script_title"] == script["title"]
    assert job["script_summary"] == script["summary"]
    assert job["cost_usd"]["claude"] == pytest.approx(price(15000, 1200), abs=1e-6)
    assert job["script_usage"]["input_tokens"] == 15000

    (request,) = server.message_requests
    assert sent_key(request) == "sk-ant-test"
    body = request.body
    assert body["model"] == services.settings.anthropic_model
    assert body["tool_choice"] == {"type": "tool", "name": "write_script"}
    assert body["max_tokens"] == 16_000
    assert body["tools"][0]["input_schema"]["required"] == ["title", "description", "tags", "scenes", "summary"]
    assert "Vietnamese" in body["system"] and services.settings.script_tone in body["system"]
    images = sent_images(request)
    assert len(images) == 4  # 6 views (the strip makes two tiles), spread over a budget of 4
    assert all(max(image.size) <= 200 and image.format == "JPEG" for image in images)


def test_the_system_prompt_follows_the_configured_language(services: Services) -> None:
    with fake.serve([fake.tool_answer(good_script([1]))]) as server:
        services = claude_services(services, server, script_language="en", script_tone="calm")
        job_id = seed_job(services, [(300, 450, 1)])
        prepare_script_input({"job_id": job_id}, services)
        generate_script({"job_id": job_id}, services)

    system = server.message_requests[0].body["system"]
    assert "in English" in system and "Vietnamese" not in system
    assert services.storage.get_json(JobKeys(job_id).script)["language"] == "en"


def test_overloaded_529_is_retried_by_the_sdk(services: Services) -> None:
    with fake.serve([fake.overloaded(), fake.tool_answer(good_script([1]))]) as server:
        services = claude_services(services, server)
        job_id = seed_job(services, [(300, 450, 1)])
        prepare_script_input({"job_id": job_id}, services)

        result = generate_script({"job_id": job_id}, services)

    assert len(server.message_requests) == 2
    assert result["narrator"] == "claude"


def test_overloaded_past_the_retries_is_a_script_generation_error(services: Services) -> None:
    with fake.serve([fake.overloaded()]) as server:
        services = claude_services(services, server, anthropic_max_retries=1)
        job_id = seed_job(services, [(300, 450, 1)])
        prepare_script_input({"job_id": job_id}, services)

        with pytest.raises(ScriptGenerationError, match="529"):
            generate_script({"job_id": job_id}, services)

    assert len(server.message_requests) == 2
    assert services.jobs.get(job_id)["status"] == "fetched"


def test_a_malformed_answer_gets_one_repair_round(services: Services) -> None:
    broken = good_script([1, 2])
    broken["scenes"][1]["pages"] = [9]
    del broken["summary"]
    with fake.serve(
        [
            fake.tool_answer(broken, input_tokens=10000, output_tokens=800),
            fake.tool_answer(good_script([1, 2]), input_tokens=11000, output_tokens=900),
        ]
    ) as server:
        services = claude_services(services, server)
        job_id = seed_job(services, [(300, 450, 1), (300, 450, 1)])
        prepare_script_input({"job_id": job_id}, services)

        result = generate_script({"job_id": job_id}, services)

    assert result["scene_count"] == 2
    first, repair = server.message_requests
    assert len(repair.body["messages"]) == 3
    echoed = repair.body["messages"][1]
    assert echoed["role"] == "assistant" and echoed["content"][0]["input"] == broken
    feedback = repair.body["messages"][2]["content"][0]
    assert feedback["type"] == "tool_result" and feedback["is_error"] is True
    assert feedback["tool_use_id"] == echoed["content"][0]["id"]
    assert "outside 1..2: [9]" in feedback["content"] and "summary" in feedback["content"]
    assert len(sent_images(repair)) == len(sent_images(first)) == 2
    # both calls are paid for
    assert services.jobs.get(job_id)["cost_usd"]["claude"] == pytest.approx(
        price(10000, 800) + price(11000, 900), abs=1e-6
    )


def test_still_malformed_after_the_repair_is_an_error(services: Services) -> None:
    no_scenes = {**good_script([1]), "scenes": []}
    with fake.serve([fake.tool_answer(no_scenes)]) as server:
        services = claude_services(services, server)
        job_id = seed_job(services, [(300, 450, 1)])
        prepare_script_input({"job_id": job_id}, services)

        with pytest.raises(ScriptGenerationError, match=r"after one repair round.*scenes"):
            generate_script({"job_id": job_id}, services)

    assert len(server.message_requests) == 2
    assert not services.storage.exists(JobKeys(job_id).script)


@pytest.mark.parametrize(("reply", "expected"), [(fake.refusal(), "refused"), (fake.empty_answer(), "nothing")])
def test_a_refusal_or_empty_answer_is_an_error_without_repair(
    services: Services, reply: fake.Reply, expected: str
) -> None:
    with fake.serve([reply]) as server:
        services = claude_services(services, server)
        job_id = seed_job(services, [(300, 450, 1)])
        prepare_script_input({"job_id": job_id}, services)

        with pytest.raises(ScriptGenerationError, match=expected):
            generate_script({"job_id": job_id}, services)

    assert len(server.message_requests) == 1
    assert services.jobs.get(job_id)["status"] == "fetched"


def test_the_key_can_come_from_ssm(services: Services) -> None:
    services.client("ssm").put_parameter(
        Name="/manga2video/anthropic-key", Value="sk-ant-from-ssm", Type="SecureString"
    )
    with fake.serve([fake.tool_answer(good_script([1]))]) as server:
        services = with_settings(
            services, anthropic_ssm_parameter="/manga2video/anthropic-key", anthropic_base_url=server.url
        )
        job_id = seed_job(services, [(300, 450, 1)])
        prepare_script_input({"job_id": job_id}, services)
        generate_script({"job_id": job_id}, services)

    assert sent_key(server.message_requests[0]) == "sk-ant-from-ssm"


def test_an_unreadable_ssm_key_is_an_error_not_a_silent_fallback(services: Services) -> None:
    services = with_settings(services, anthropic_ssm_parameter="/manga2video/missing")
    job_id = seed_job(services, [(300, 450, 1)])
    prepare_script_input({"job_id": job_id}, services)

    with pytest.raises(ScriptGenerationError, match="/manga2video/missing"):
        generate_script({"job_id": job_id}, services)


# --- the offline narrator -------------------------------------------------------------


def test_without_a_key_the_offline_narrator_writes_a_plain_script(
    services: Services, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert not settings.anthropic_api_key and not settings.anthropic_ssm_parameter
    earlier = seed_job(services, [(300, 450, 1)], chapter_number=1)
    services.jobs.transition(earlier, "scripted", script_summary="Miyo rời khỏi nhà Saimori.")
    # pages 1-4 ordinary, 5 a tall strip, 6 ordinary
    job_id = seed_job(services, [(300, 450, 1)] * 4 + [(200, 1000, 2), (300, 450, 1)])
    prepare_script_input({"job_id": job_id}, services)

    result = generate_script({"job_id": job_id}, services)

    script = services.storage.get_json(JobKeys(job_id).script)
    assert result["narrator"] == script["narrator"] == "offline"
    assert [scene["pages"] for scene in script["scenes"]] == [[1, 2], [3, 4], [5], [6]]
    first = script["scenes"][0]["narration"]
    assert "Hôn Nhân Hạnh Phúc Của Tôi" in first and "6 trang" in first and "Miyo rời khỏi nhà Saimori." in first
    assert "dải tranh dài" in script["scenes"][2]["narration"]
    assert "tự động" in script["description"]
    job = services.jobs.get(job_id)
    assert job["status"] == "scripted" and job["fallbacks"] == ["offline narrator"]
    assert "script_summary" not in job  # an offline recap carries no story forward
    assert any(record.levelname == "WARNING" and "offline narrator" in record.getMessage() for record in caplog.records)


def test_models_that_refuse_forced_tools_get_auto_and_their_own_price(services: Services) -> None:
    with fake.serve([fake.tool_answer(good_script([1]), input_tokens=20000, output_tokens=2000)]) as server:
        services = claude_services(services, server, anthropic_model="claude-sonnet-5-5")
        job_id = seed_job(services, [(300, 450, 1)])
        prepare_script_input({"job_id": job_id}, services)
        generate_script({"job_id": job_id}, services)

    assert server.message_requests[0].body["tool_choice"] == {"type": "auto"}
    assert services.jobs.get(job_id)["cost_usd"]["claude"] == pytest.approx(
        price(20000, 2000, "claude-sonnet-5"), abs=1e-6
    )
