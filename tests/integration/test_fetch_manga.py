"""FetchManga over real HTTP: the scraper against the loopback fixture site, the job in moto."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from PIL import Image

from manga2video.config import Settings
from manga2video.errors import (
    ChapterNotFoundError,
    CloudflareChallengeError,
    InvalidImageError,
    NoImagesError,
    SourceUnavailableError,
)
from manga2video.fetch import bounded_map, fetch_manga
from manga2video.jobs import Chapter, job_id_for
from manga2video.local.fixture_site import (
    BROKEN_PATH,
    CHALLENGE_PATH,
    COMICS,
    DEAD_HOST_CHAPTER,
    EMPTY_PATH,
    MISSING_PATH,
    FixtureSite,
)
from manga2video.services import Services
from manga2video.sources.nettruyen import USER_AGENT, NetTruyenClient, PageImage
from manga2video.storage import JobKeys
from tests.conftest import ROOT

CLASSIC, AJAX, JSON_LIST = (
    next(comic for comic in COMICS if comic.layout == kind) for kind in ("classic", "ajax", "json-list")
)


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureSite]:
    with FixtureSite() as running:
        yield running


@pytest.fixture
def source_settings(site: FixtureSite, settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, source_base_url=site.base_url, source_retries=2, source_backoff_seconds=0.01, source_timeout_seconds=5
    )


@pytest.fixture
def client(source_settings: Settings) -> NetTruyenClient:
    return NetTruyenClient(source_settings)


@contextlib.contextmanager
def unused_loopback_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def image_paths(site: FixtureSite) -> list[str]:
    return [path for method, path, _ in site.requests if path.startswith(("/anh", "/cdn"))]


# --- the scraper --------------------------------------------------------------------------
def test_listing_names_every_comic_with_its_newest_chapter(client: NetTruyenClient) -> None:
    comics = client.listing()
    assert [comic.title for comic in comics] == [comic.title for comic in COMICS]
    for listed, fixture in zip(comics, COMICS, strict=True):
        assert listed.chapters[0].title == f"Chapter {fixture.chapters[-1].number}"


@pytest.mark.parametrize("fixture", [CLASSIC, AJAX, JSON_LIST], ids=lambda comic: comic.layout)
def test_chapter_list_newest_first_in_every_layout(client: NetTruyenClient, site: FixtureSite, fixture) -> None:
    comic = client.comic(site.url(fixture.path))
    assert comic.title == fixture.title
    assert [link.title for link in comic.chapters] == [f"Chapter {c.number}" for c in reversed(fixture.chapters)]
    assert comic.chapters[-1].chapter_key == f"{fixture.slug}/{fixture.chapters[0].chapter_id}"


@pytest.mark.parametrize("fixture", [CLASSIC, AJAX, JSON_LIST], ids=lambda comic: comic.layout)
def test_pages_of_both_layouts_in_reading_order(client: NetTruyenClient, site: FixtureSite, fixture) -> None:
    chapter = fixture.chapters[2]
    page = client.chapter(site.url(fixture.chapter_path(chapter)))
    assert page.comic_title == fixture.title and page.chapter_title == f"Chapter {chapter.number}"
    assert [image.url.rsplit("/", 1)[1] for image in page.images] == [
        f"{n:03d}.jpg" for n in range(1, chapter.pages + 1)
    ]
    posted = [path for method, path, _ in site.requests if method == "POST"]
    assert (f"/ajax/image/list/chap/{chapter.chapter_id}" in posted) == (fixture.layout == "ajax")
    last = client.fetch_jpeg(page.images[-1], referer=page.url)
    assert last.width == 800 and last.height in (1200, 4000)


def test_a_client_without_a_browser_user_agent_is_challenged(client: NetTruyenClient, site: FixtureSite) -> None:
    bare = requests.get(site.base_url + "/", timeout=5)
    assert bare.status_code == 403 and bare.headers["cf-mitigated"] == "challenge"
    assert client.listing(), "the scraper passes as a browser"


def test_image_host_refuses_until_the_referer_is_sent(client: NetTruyenClient, site: FixtureSite) -> None:
    image_url = site.url(f"/anh/{CLASSIC.chapters[0].chapter_id}/001.jpg")
    assert requests.get(image_url, headers={"User-Agent": USER_AGENT}, timeout=5).status_code == 403
    with pytest.raises(SourceUnavailableError, match="403"):
        client.fetch_jpeg(PageImage(image_url), referer="https://elsewhere.example/")
    chapter_url = site.url(CLASSIC.chapter_path(CLASSIC.chapters[0]))
    jpeg = client.fetch_jpeg(PageImage(image_url), referer=chapter_url)
    with Image.open(io.BytesIO(jpeg.data)) as decoded:
        assert decoded.size == (800, 1200)


def test_a_dead_image_host_falls_back_to_data_cdn(client: NetTruyenClient, site: FixtureSite) -> None:
    chapter = next(c for c in CLASSIC.chapters if c.chapter_id == DEAD_HOST_CHAPTER)
    page = client.chapter(site.url(CLASSIC.chapter_path(chapter)))
    site.requests.clear()
    client.fetch_jpeg(page.images[0], referer=page.url)
    assert image_paths(site) == [f"/anh-hong/{DEAD_HOST_CHAPTER}/001.jpg", f"/cdn/{DEAD_HOST_CHAPTER}/001.jpg"]


def test_a_missing_chapter_is_chapter_not_found(client: NetTruyenClient, site: FixtureSite) -> None:
    with pytest.raises(ChapterNotFoundError, match="404"):
        client.chapter(site.url(MISSING_PATH))


def test_a_truncated_image_is_invalid(client: NetTruyenClient, site: FixtureSite) -> None:
    page = client.chapter(site.url(BROKEN_PATH))
    client.fetch_jpeg(page.images[0], referer=page.url)
    with pytest.raises(InvalidImageError, match="broken image"):
        client.fetch_jpeg(page.images[1], referer=page.url)


def test_an_html_answer_on_an_image_url_is_invalid(client: NetTruyenClient, site: FixtureSite) -> None:
    with pytest.raises(InvalidImageError, match="text/html"):
        client.fetch_jpeg(PageImage(site.url("/anh-gia/1.jpg")), referer=site.base_url + "/")


def test_an_oversized_image_is_refused_before_decoding(source_settings: Settings, site: FixtureSite) -> None:
    small_cap = NetTruyenClient(dataclasses.replace(source_settings, image_max_bytes=10_000))
    page = small_cap.chapter(site.url(CLASSIC.chapter_path(CLASSIC.chapters[0])))
    with pytest.raises(InvalidImageError, match="over the cap"):
        small_cap.fetch_jpeg(page.images[0], referer=page.url)


def test_an_oversized_image_without_content_length_is_cut_off_mid_stream(
    source_settings: Settings, site: FixtureSite
) -> None:
    chunked = PageImage(site.url(f"/anh-chunked/{CLASSIC.chapters[0].chapter_id}/001.jpg"))
    assert NetTruyenClient(source_settings).fetch_jpeg(chunked, referer=site.base_url + "/").width == 800
    small_cap = NetTruyenClient(dataclasses.replace(source_settings, image_max_bytes=10_000))
    with pytest.raises(InvalidImageError, match="more than 10000 bytes"):
        small_cap.fetch_jpeg(chunked, referer=site.base_url + "/")


def test_a_page_without_images_is_no_images(client: NetTruyenClient, site: FixtureSite) -> None:
    with pytest.raises(NoImagesError):
        client.chapter(site.url(EMPTY_PATH))


def test_the_challenge_page_is_a_cloudflare_error(client: NetTruyenClient, site: FixtureSite) -> None:
    with pytest.raises(CloudflareChallengeError):
        client.chapter(site.url(CHALLENGE_PATH))


def test_a_stalling_server_times_out_as_source_unavailable(source_settings: Settings, site: FixtureSite) -> None:
    impatient = NetTruyenClient(dataclasses.replace(source_settings, source_timeout_seconds=0.3, source_retries=0))
    with pytest.raises(SourceUnavailableError, match="Timeout"):
        impatient.chapter(site.url("/cham/truyen-tranh/x/chap-1/1"))


def test_5xx_is_retried_until_the_site_answers(source_settings: Settings, site: FixtureSite) -> None:
    flaky = NetTruyenClient(dataclasses.replace(source_settings, source_base_url=site.url("/flaky")))
    site.requests.clear()
    assert len(flaky.listing()) == len(COMICS)
    assert [path for _, path, _ in site.requests] == ["/flaky/"] * 3


def test_a_dead_domain_falls_back_to_the_next_configured_one(source_settings: Settings, site: FixtureSite) -> None:
    with unused_loopback_port() as dead_port:
        moved = NetTruyenClient(
            dataclasses.replace(
                source_settings,
                source_base_url=f"http://127.0.0.1:{dead_port}",
                source_fallback_urls=(site.base_url,),
                source_retries=0,
            )
        )
        assert len(moved.listing()) == len(COMICS)
    page = moved.chapter(f"https://old-domain.example{CLASSIC.chapter_path(CLASSIC.chapters[0])}")
    assert page.url.startswith(site.base_url)


def test_page_downloads_run_at_most_n_at_a_time_and_keep_their_order() -> None:
    lock = threading.Lock()
    active = peak = 0

    def square(number: int) -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)  # long enough for the pool's other threads to overlap this one
        with lock:
            active -= 1
        if number == 7:
            raise InvalidImageError("page 7")
        return number * number

    assert bounded_map(square, range(7), 3) == [n * n for n in range(7)]
    assert 1 < peak <= 3
    with pytest.raises(InvalidImageError, match="page 7"):
        bounded_map(square, range(10), 3)


# --- FetchManga, with the jobs table and the bucket in moto ----------------------------------
def make_services(source_settings: Settings, **changes) -> Services:
    return Services(dataclasses.replace(source_settings, **changes))


def stored_jpeg_size(services: Services, key: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(services.storage.get_bytes(key))) as image:
        assert image.format == "JPEG"
        return image.size


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies a conditional write atomically; moto checks and writes without a lock.

    Two threads racing through moto can both pass the condition, which DynamoDB never
    allows, so the race test serialises moto's item writes as the real service does.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def atomic(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)


def test_two_threads_claiming_one_chapter_one_wins(aws, atomic_dynamodb, services: Services) -> None:
    chapter = Chapter("race/1", "race", "Race", "Chapter 1", "https://s.example/truyen-tranh/race/chap-1/1")
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def claim(owner: str) -> None:
        barrier.wait()
        results[owner] = services.jobs.claim_chapter(chapter, owner=owner, lease_seconds=600, max_failures=3)

    threads = [threading.Thread(target=claim, args=(owner,)) for owner in ("run-a", "run-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [owner for owner, job in results.items() if job is not None]
    assert len(winners) == 1
    assert services.jobs.get(job_id_for("race/1"))["owner"] == winners[0]


def test_follow_list_fetches_the_oldest_chapter_into_s3(aws, source_settings: Settings, site: FixtureSite) -> None:
    # a followed comic that is gone is logged and passed over
    services = make_services(source_settings, follow_list=("mat-tich-9003", f"{CLASSIC.slug}-{CLASSIC.comic_id}"))
    first = CLASSIC.chapters[0]
    result = fetch_manga({"execution_name": "exec-1"}, services)
    job_id = job_id_for(f"{CLASSIC.slug}/{first.chapter_id}")
    assert result == {
        "status": "success",
        "job_id": job_id,
        "comic_title": CLASSIC.title,
        "chapter_title": "Chapter 1",
        "page_count": first.pages,
    }
    job = services.jobs.get(job_id)
    assert job["status"] == "fetched" and job["owner"] == "exec-1" and job["chapter_number"] == 1
    assert [page["key"] for page in job["pages"]] == [JobKeys(job_id).page(n) for n in range(1, first.pages + 1)]
    assert all(stored_jpeg_size(services, page["key"]) == (page["width"], page["height"]) for page in job["pages"])
    # the next run takes the next chapter: the one whose image host is dead, so data-cdn serves it
    second = fetch_manga({"execution_name": "exec-2"}, services)
    assert second["chapter_title"] == "Chapter 2" and second["page_count"] == CLASSIC.chapters[1].pages


def test_latest_listing_mode_takes_the_newest_chapter_and_keeps_tall_strips(
    aws, source_settings: Settings, site: FixtureSite
) -> None:
    services = make_services(source_settings, follow_list=())
    result = fetch_manga({"execution_name": "exec-1"}, services)
    newest = AJAX.chapters[-1]
    assert result["job_id"] == job_id_for(f"{AJAX.slug}/{newest.chapter_id}")
    pages = services.jobs.get(result["job_id"])["pages"]
    assert len(pages) == newest.pages
    assert {(page["width"], page["height"]) for page in pages} == {(800, 1200), (800, 4000)}
    assert fetch_manga({"execution_name": "exec-2"}, services)["comic_title"] == COMICS[1].title


def test_a_download_that_fails_halfway_leaves_the_job_failed_not_fetched(
    aws, source_settings: Settings, site: FixtureSite, caplog: pytest.LogCaptureFixture
) -> None:
    services = make_services(source_settings, follow_list=("anh-loi-9000",), max_chapter_failures=2)
    job_id = job_id_for("anh-loi/9002")
    for attempt in (1, 2):
        with pytest.raises(InvalidImageError):
            fetch_manga({"execution_name": f"exec-{attempt}"}, services)
        job = services.jobs.get(job_id)
        assert job["status"] == "failed" and job["failures"] == attempt
        assert "pages" not in job and job["failed_at"] == "FetchManga" and job["error"] == "InvalidImageError"
    # failed max_chapter_failures times: skipped with a warning, never claimed again
    caplog.clear()
    assert fetch_manga({"execution_name": "exec-3"}, services) == {"status": "no_manga_available"}
    assert services.jobs.get(job_id)["failures"] == 2
    assert any(record.levelname == "WARNING" and "failed too often" in record.getMessage() for record in caplog.records)


def test_a_reclaimed_job_reuses_its_pages_in_s3(aws, source_settings: Settings, site: FixtureSite) -> None:
    services = make_services(source_settings, follow_list=(f"{JSON_LIST.slug}-{JSON_LIST.comic_id}",))
    first = fetch_manga({"execution_name": "exec-1"}, services)
    services.jobs.mark_failed(
        first["job_id"], error="ScriptGenerationError", error_message="x", failed_at="GenerateScript"
    )
    site.requests.clear()
    again = fetch_manga({"execution_name": "exec-2"}, services)
    assert again == first
    assert image_paths(site) == []
    assert services.jobs.get(first["job_id"])["status"] == "fetched"


def test_a_deferred_upload_comes_before_any_new_chapter(aws, source_settings: Settings, site: FixtureSite) -> None:
    services = make_services(source_settings)
    chapter = Chapter("old/7", "old", "Truyện Cũ", "Chapter 7", "https://s.example/truyen-tranh/old/chap-7/7")
    job_id = services.jobs.claim_chapter(chapter, owner="yesterday", lease_seconds=600, max_failures=3)["job_id"]
    for status in ("fetched", "scripted", "voiced", "rendered"):
        services.jobs.transition(job_id, status)
    services.jobs.defer_upload(job_id, reason="quotaExceeded")
    site.requests.clear()
    result = fetch_manga({"execution_name": "today"}, services)
    assert result == {
        "status": "resume_upload",
        "job_id": job_id,
        "comic_title": "Truyện Cũ",
        "chapter_title": "Chapter 7",
    }
    assert site.requests == []
    assert services.jobs.get(job_id)["status"] == "rendered"


def test_debug_command_reads_a_live_comic(site: FixtureSite) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "manga2video.sources.nettruyen", "comic", "--url", site.url(JSON_LIST.path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    printed = json.loads(result.stdout)
    assert printed["title"] == JSON_LIST.title
    assert [chapter["title"] for chapter in printed["chapters"]] == [
        f"Chapter {chapter.number}" for chapter in reversed(JSON_LIST.chapters)
    ]


def test_debug_command_names_the_error(site: FixtureSite) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "manga2video.sources.nettruyen", "chapter", "--url", site.url(CHALLENGE_PATH)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("CloudflareChallengeError")
