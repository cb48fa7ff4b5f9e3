"""The scraper's parsers against real NetTruyen captures (read as they are) and the family's variants."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from PIL import Image

from manga2video.errors import ChapterNotFoundError, InvalidImageError, NoImagesError
from manga2video.sources.nettruyen import (
    ChapterLink,
    absolute_url,
    is_challenge,
    parse_ajax_images,
    parse_chapter,
    parse_chapter_list_json,
    parse_comic,
    parse_images,
    parse_listing,
    to_jpeg,
)
from tests.conftest import ROOT, SHARED_FIXTURES

REAL = SHARED_FIXTURES / "nettruyen-real"
LISTING = REAL / "listing_nettruyenmax_2023-06_homepage.html"
DETAIL = REAL / "detail_nettruyenio_2023_hon-nhan-hanh-phuc.html"
CHAPTER = REAL / "chapter_nettruyenio_2023_hon-nhan-chap20.html"
FRAGMENT = REAL / "ajax_nettruyenmax_2023-06_GetFollowedBlockComics_fragment.html"
DETAIL_URL = "https://www.nettruyenio.com/truyen-tranh/hon-nhan-hanh-phuc-cua-toi-25737"
CHAPTER_URL = "https://www.nettruyenio.com/truyen-tranh/hon-nhan-hanh-phuc-cua-toi/chap-20-2/776047"


def _read(path) -> str:
    return path.read_text(encoding="utf-8")


def test_real_listing_is_the_latest_updated_grid_not_the_carousel() -> None:
    comics = parse_listing(_read(LISTING), "https://www.nettruyenmax.com/")
    assert len(comics) == 36
    first = comics[0]
    assert first.title == "Kill Blue"
    assert first.url == "https://www.nettruyenmax.com/truyen-tranh/kill-blue-88795"
    assert first.chapters[0].title == "Chapter 2"
    assert first.chapters[0].url == "https://www.nettruyenmax.com/truyen-tranh/kill-blue/chap-2/1017739"
    assert len({comic.url for comic in comics}) == 36


def test_real_detail_lists_twenty_chapters_newest_first() -> None:
    comic = parse_comic(_read(DETAIL), DETAIL_URL)
    assert comic.title == "Hôn Nhân Hạnh Phúc Của Tôi"
    assert comic.comic_id == "25737"
    assert comic.slug == "hon-nhan-hanh-phuc-cua-toi"
    assert len(comic.chapters) == 20
    assert comic.chapters[0] == ChapterLink("Chapter 20", CHAPTER_URL)
    assert comic.chapters[-1].title == "Chapter 1"
    assert comic.chapters[0].chapter_key == "hon-nhan-hanh-phuc-cua-toi/776047"
    assert comic.chapters[0].number == 20.0


def test_real_chapter_gives_28_images_in_order_with_cdn_fallbacks() -> None:
    page = parse_chapter(_read(CHAPTER), CHAPTER_URL)
    urls = [image.url for image in page.images]
    assert len(urls) == 28
    assert urls[0] == "https://i338.ntcdntempv3.com/data/images/25737/776047/001.jpg?data=net"
    assert urls[-1] == "https://i338.ntcdntempv3.com/data/images/25737/776047/028.jpg?data=net"
    assert urls == sorted(urls)
    assert page.images[0].fallbacks == ("https://cdn.ntcdntempv26.com/data/images/25737/776047/001.jpg?data=net",)
    assert page.chapter_id == "776047"
    assert page.comic_title == "Hôn Nhân Hạnh Phúc Của Tôi"
    assert page.chapter_title == "Chapter 20"
    assert page.comic_url == DETAIL_URL


def test_real_ajax_fragment_gives_five_comics_with_relative_urls_resolved() -> None:
    comics = parse_listing(_read(FRAGMENT), "https://www.nettruyenmax.com/")
    assert len(comics) == 5
    assert comics[0].title == "Shuumatsu no Valkyrie"
    assert comics[0].url == "https://www.nettruyenmax.com/truyen-tranh/shuumatsu-no-valkyrie-207270"
    # the latest chapter, not the "Đọc tiếp" (continue reading) link beside it
    assert comics[0].chapters[0].title == "Chapter 79"


@pytest.mark.parametrize(
    ("kind", "path", "url", "key", "count", "first"),
    [
        ("listing", LISTING, "https://www.nettruyenmax.com/", "comics", 36, "Kill Blue"),
        ("comic", DETAIL, DETAIL_URL, "chapters", 20, CHAPTER_URL),
        (
            "chapter",
            CHAPTER,
            CHAPTER_URL,
            "images",
            28,
            "https://i338.ntcdntempv3.com/data/images/25737/776047/001.jpg?data=net",
        ),
    ],
)
def test_debug_command_prints_what_it_parsed(kind, path, url, key, count, first) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "manga2video.sources.nettruyen", kind, "--url", url, "--html", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    printed = json.loads(result.stdout)[key]
    assert len(printed) == count
    assert first in (printed[0], *(printed[0].values() if isinstance(printed[0], dict) else ()))


# --- the family's variants, beyond the four captures -----------------------------------------
def test_single_quoted_lazy_images_skip_placeholders_and_get_a_scheme() -> None:
    fragment = (
        "<div class='reading-detail'>"
        "<div class='page-chapter'><img data-index='2' src='data:image/gif;base64,R0lGOD' "
        "data-src='//img.example.net/2.jpg' /></div>"
        "<div class='page-chapter'><img data-index='1' src='/images/loading.gif' data-original='/p/1.jpg' /></div>"
        "<div class='page-chapter'><img data-index='3' src='https://img.example.net/3.webp' /></div>"
        "</div>"
    )
    images = parse_images(fragment, "http://site.example/truyen-tranh/a/chap-1/5")
    assert [image.url for image in images] == [
        "http://site.example/p/1.jpg",
        "http://img.example.net/2.jpg",
        "https://img.example.net/3.webp",
    ]
    # a placeholder is never kept as a mirror to fall back on either
    assert [image.fallbacks for image in images] == [(), (), ()]


def test_a_page_image_whose_path_mentions_lazy_is_not_a_placeholder() -> None:
    images = parse_images("<img src='https://cdn.example/lazy-hero/001.jpg'>", "https://site.example/")
    assert [image.url for image in images] == ["https://cdn.example/lazy-hero/001.jpg"]


def test_collapsed_chapter_rows_count_and_an_oldest_first_list_is_turned_round() -> None:
    rows = "".join(
        f'<li class="row{" less" if n < 3 else ""}" style="{"display:none" if n < 3 else ""}">'
        f'<div class="chapter"><a href="/truyen-tranh/x/chap-{n}/{100 + n}">Chương {n}</a></div></li>'
        for n in range(1, 6)
    )
    html = f'<h1 class="title-detail">X</h1><div id="nt_listchapter"><ul>{rows}</ul></div>'
    comic = parse_comic(html, "https://site.example/truyen-tranh/x-77")
    assert [link.title for link in comic.chapters] == [f"Chương {n}" for n in range(5, 0, -1)]
    assert comic.comic_id == "77"
    assert comic.slug == "x"


def test_detail_without_rows_and_the_json_chapter_list() -> None:
    html = '<h1 class="title-detail">Y</h1><script>gOpts.comicId=42;</script><div id="nt_listchapter"><ul></ul></div>'
    comic = parse_comic(html, "https://site.example/truyen-tranh/yy-42")
    assert comic.chapters == () and comic.comic_id == "42" and comic.slug == "yy"
    payload = {"data": [{"chapter_id": 9, "chapter_name": "Chapter 2", "chapter_slug": "chap-2"}, {"x": 1}]}
    chapters = parse_chapter_list_json(payload, comic)
    assert chapters == (ChapterLink("Chapter 2", "https://site.example/truyen-tranh/yy/chap-2/9"),)
    with pytest.raises(ChapterNotFoundError):
        parse_chapter_list_json({"error": "nope"}, comic)


def test_ajax_image_list_payloads() -> None:
    payload = {"status": True, "html": '<div class="iv-card"><img data-src="https://c.example/1.jpg"></div>'}
    assert [image.url for image in parse_ajax_images(payload, "https://s.example/")] == ["https://c.example/1.jpg"]
    with pytest.raises(NoImagesError):
        parse_ajax_images({"status": False, "msg": "Chapter not found"}, "https://s.example/")


def test_a_page_that_is_not_a_comic_is_a_named_error() -> None:
    with pytest.raises(ChapterNotFoundError):
        parse_comic("<html><body><p>nothing here</p></body></html>", "https://s.example/truyen-tranh/z-1")
    with pytest.raises(ChapterNotFoundError):
        parse_chapter("<html><body><p>nothing here</p></body></html>", "https://s.example/truyen-tranh/z/chap-1/2")


def test_chapter_identity_is_the_same_on_every_domain() -> None:
    one = ChapterLink("Chapter 7.5", "https://www.nettruyenmax.com/truyen-tranh/abc/chap-7-5/123")
    two = ChapterLink("Chapter 7.5", "https://nettruyenviet.com/truyen-tranh/abc/chap-7-5/123")
    assert one.chapter_key == two.chapter_key == "abc/123"
    assert one.comic_key == "abc" and one.number == 7.5
    assert ChapterLink("Chương cuối", "https://s.example/truyen-tranh/abc/chap-12").number == 12.0


def test_absolute_url() -> None:
    assert absolute_url(" //i.example/a.jpg ", "https://s.example/x") == "https://i.example/a.jpg"
    assert absolute_url("b.jpg", "http://s.example/x/y") == "http://s.example/x/b.jpg"


def test_cloudflare_challenge_detection() -> None:
    assert is_challenge(403, {"cf-mitigated": "challenge"}, "")
    assert is_challenge(503, {}, "<html><head><title>Just a moment...</title>")
    assert is_challenge(403, {}, "<script>window._cf_chl_opt={}</script>")
    assert not is_challenge(200, {}, _read(CHAPTER)[:4000])
    assert not is_challenge(200, {}, "<script src='/cdn-cgi/challenge-platform/scripts/jsd/main.js'></script>")


def _encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def test_to_jpeg_converts_validates_and_guards() -> None:
    png = _encoded(Image.new("RGBA", (40, 60), (255, 0, 0, 128)), "PNG")
    jpeg = to_jpeg(png, max_pixels=10_000)
    assert (jpeg.width, jpeg.height) == (40, 60)
    with Image.open(io.BytesIO(jpeg.data)) as decoded:
        assert decoded.format == "JPEG" and decoded.mode == "RGB"
    original = _encoded(Image.new("RGB", (30, 30), "blue"), "JPEG")
    assert to_jpeg(original, max_pixels=10_000).data == original  # kept, not re-encoded
    with pytest.raises(InvalidImageError, match="pixel cap"):
        to_jpeg(png, max_pixels=1_000)
    with pytest.raises(InvalidImageError):
        to_jpeg(original[: len(original) // 2], max_pixels=10_000)
    with pytest.raises(InvalidImageError):
        to_jpeg(b"<html>not an image</html>", max_pixels=10_000)
