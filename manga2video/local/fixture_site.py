"""A NetTruyen-like site on loopback: the default source of `make run` and of the tests.

It serves both generations of the WPComics theme, so the scraper meets on loopback what it
meets on the real site: lazy images behind placeholders, protocol-relative and relative
URLs, single-quoted attributes, collapsed chapter rows, an image host that refuses
requests without the site as Referer, data-cdn mirrors, the ajax image list and the JSON
chapter list. Page images are drawn with Pillow (panels, speech bubbles with Vietnamese
text, webtoon strips), deterministic, and cached in memory.

URLs (relative to base_url):
  /                                                 latest-updated listing (the 3 comics, plus a "hot" carousel)
  /truyen-tranh/{slug}-{comic_id}                   comic detail page
  /truyen-tranh/{slug}/chap-{n}/{chapter_id}        chapter reader page
  /Comic/Services/ComicService.asmx/ChapterList?slug=&comicId=   JSON chapter list, newest first
  POST /ajax/image/list/chap/{chapter_id}           {"status": true, "html": "<img data-src=...>..."}
  /anh/{chapter_id}/{page:03d}.jpg                  page image: 403 unless the Referer is on this site
  /cdn/{chapter_id}/{page:03d}.jpg                  the same image on the "data-cdn" mirror (same rule)
  /anh-hong/...                                     a dead image host (404): kiem-si-bong-dem chapter 2 uses it
  /bia/{comic_id}.jpg                               cover thumbnails
Comics:
  kiem-si-bong-dem-1001      classic layout, 5 chapters, lazy data-original images, collapsed rows
  co-gai-pha-le-1002         newer layout: chapter pages carry no <img>, the ajax POST lists them; webtoon strips
  hanh-trinh-phuong-bac-1003 detail page without chapter rows (JSON chapter list), data-src relative images
Test hooks (not in the listing):
  /truyen-tranh/thu-thach/chap-1/9001     a Cloudflare challenge (403, cf-mitigated: challenge)
  /truyen-tranh/anh-loi/chap-1/9002       a chapter whose page 2 is a truncated JPEG
  /truyen-tranh/mat-tich/chap-1/9003      404 (as is any unknown path)
  /truyen-tranh/trang-trang/chap-1/9004   a chapter page without images; its ajax list is empty too
  /anh-gia/{anything}                     an "image" that is an HTML page (text/html)
  /anh-chunked/{chapter_id}/{page:03d}.jpg  the page image sent chunked, without Content-Length (no Referer rule)
  /cham/{anything}                        stalls without answering (until the client gives up or stop())
  /flaky/{path}                           502, then 503 with Retry-After: 0, for each path; then {path}
Every path answers a Cloudflare challenge (403) to a client without a browser User-Agent.
`site.requests` records (method, path, referer) of every request, for tests to inspect.

Run it by hand: python -m manga2video.local.fixture_site --port 8765
"""

from __future__ import annotations

import argparse
import functools
import html
import io
import json
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PIXEL_GIF = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
STALL_SECONDS = 30.0
PAGE_SIZE = (800, 1200)
STRIP_SIZE = (800, 4000)
LINES = (
    "Ngươi là ai?",
    "Ta sẽ không bỏ cuộc!",
    "Cẩn thận phía sau!",
    "Trời ơi, chuyện gì vậy?",
    "Đi thôi, trời sắp tối rồi.",
    "Hãy tin ở tôi.",
    "Sức mạnh này... là gì?",
    "Chúng ta phải nhanh lên!",
    "Đây là lời hứa của ta.",
    "Không thể nào!",
)


@dataclass(frozen=True)
class FixtureChapter:
    chapter_id: int
    number: int
    pages: int
    tall_pages: frozenset[int] = frozenset()
    updated: str = "27/04/26"


@dataclass(frozen=True)
class FixtureComic:
    comic_id: int
    slug: str
    title: str
    layout: str  # classic | ajax | json-list
    summary: str
    chapters: tuple[FixtureChapter, ...]  # oldest first
    tint: tuple[int, int, int]

    @property
    def path(self) -> str:
        return f"/truyen-tranh/{self.slug}-{self.comic_id}"

    def chapter_path(self, chapter: FixtureChapter) -> str:
        return f"/truyen-tranh/{self.slug}/chap-{chapter.number}/{chapter.chapter_id}"


def _chapters(comic_id: int, page_counts: tuple[int, ...], *, strips: bool = False) -> tuple[FixtureChapter, ...]:
    return tuple(
        FixtureChapter(
            chapter_id=comic_id * 10 + number,
            number=number,
            pages=pages,
            tall_pages=frozenset({3, pages - 1}) if strips else frozenset(),
            updated=f"{number + 10:02d}/04/26",
        )
        for number, pages in enumerate(page_counts, start=1)
    )


COMICS: tuple[FixtureComic, ...] = (
    FixtureComic(
        1002,
        "co-gai-pha-le",
        "Cô Gái Pha Lê",
        "ajax",
        "Một cô gái có trái tim bằng pha lê đi tìm người đã đánh cắp ký ức của mình.",
        _chapters(1002, (6, 8, 7, 10), strips=True),
        (214, 228, 250),
    ),
    FixtureComic(
        1001,
        "kiem-si-bong-dem",
        "Kiếm Sĩ Bóng Đêm",
        "classic",
        "Chàng kiếm sĩ trẻ bảo vệ ngôi làng khỏi những bóng ma xuất hiện mỗi đêm trăng tròn.",
        _chapters(1001, (7, 9, 12, 6, 8)),
        (240, 232, 220),
    ),
    FixtureComic(
        1003,
        "hanh-trinh-phuong-bac",
        "Hành Trình Phương Bắc",
        "json-list",
        "Ba người bạn vượt núi tuyết để tìm ngọn hải đăng cuối cùng của phương Bắc.",
        _chapters(1003, (8, 6, 9, 11)),
        (222, 240, 226),
    ),
)
HOOK_COMIC = FixtureComic(
    9000, "anh-loi", "Ảnh Lỗi", "classic", "Chương thử nghiệm.", (FixtureChapter(9002, 1, 3),), (230, 230, 230)
)
CHALLENGE_PATH = "/truyen-tranh/thu-thach/chap-1/9001"
BROKEN_PATH = HOOK_COMIC.chapter_path(HOOK_COMIC.chapters[0])
MISSING_PATH = "/truyen-tranh/mat-tich/chap-1/9003"
EMPTY_PATH = "/truyen-tranh/trang-trang/chap-1/9004"
CHALLENGE_HEADERS = {"cf-mitigated": "challenge", "Server": "cloudflare"}
DEAD_HOST_CHAPTER = 10012  # kiem-si-bong-dem chapter 2: data-original on /anh-hong/, data-cdn works


def find_chapter(chapter_id: int) -> tuple[FixtureComic, FixtureChapter] | None:
    for comic in (*COMICS, HOOK_COMIC):
        for chapter in comic.chapters:
            if chapter.chapter_id == chapter_id:
                return comic, chapter
    return None


# --- images ------------------------------------------------------------------------------
@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if FONT_PATH.exists():
        return ImageFont.truetype(str(FONT_PATH), size)
    return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=font) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], rng: random.Random, tint: tuple) -> None:
    """One panel: a tinted frame, speed lines, a few figures and a speech bubble of dialogue."""
    left, top, right, bottom = box
    shade = tuple(max(0, channel - rng.randint(0, 40)) for channel in tint)
    draw.rectangle(box, fill=shade, outline="black", width=6)
    for _ in range(rng.randint(0, 8)):
        y = rng.randint(top + 10, bottom - 10)
        draw.line((left + 8, y, left + rng.randint(40, max(41, right - left - 8)), y), fill=(170, 170, 170), width=2)
    middle = (top + bottom) // 2
    for _ in range(rng.randint(1, 3)):
        radius = rng.randint(25, max(26, min(60, (bottom - top) // 8)))
        cx = rng.randint(left + radius + 10, right - radius - 10)
        cy = rng.randint(middle, max(middle + 1, bottom - 3 * radius - 10))
        draw.ellipse(
            (cx - radius, cy - radius, cx + radius, cy + radius), fill=(250, 245, 235), outline="black", width=3
        )
        body = [(cx - radius, cy + radius), (cx + radius, cy + radius), (cx, min(bottom - 8, cy + 3 * radius))]
        draw.polygon(body, fill=(60, 60, 80))
    font = _font(26)
    lines = _wrap(draw, rng.choice(LINES), font, min(320, right - left - 80))
    width = int(max(draw.textlength(line, font=font) for line in lines)) + 40
    height = 34 * len(lines) + 24
    bx = rng.randint(left + 20, max(left + 21, right - width - 20))
    by = top + 20
    draw.rounded_rectangle((bx, by, bx + width, by + height), radius=18, fill="white", outline="black", width=3)
    draw.polygon([(bx + 30, by + height), (bx + 60, by + height), (bx + 40, by + height + 28)], fill="black")
    for row, line in enumerate(lines):
        draw.text((bx + 20, by + 12 + row * 34), line, fill="black", font=font)


@functools.cache
def render_page(chapter_id: int, page: int) -> bytes:
    """A deterministic manga page (a webtoon strip on the chapter's tall pages), as JPEG bytes."""
    found = find_chapter(chapter_id)
    if found is None:
        raise KeyError(f"no fixture chapter {chapter_id}")
    comic, chapter = found
    tall = page in chapter.tall_pages
    rng = random.Random(f"{chapter_id}/{page}")
    width, height = STRIP_SIZE if tall else PAGE_SIZE
    image = Image.new("RGB", (width, height), (252, 250, 246))
    draw = ImageDraw.Draw(image)
    margin, gutter, footer = 30, 24, 70
    weights = [rng.uniform(0.7, 1.3) for _ in range(rng.randint(4, 6) if tall else rng.randint(2, 3))]
    usable = height - margin - footer - gutter * (len(weights) - 1)
    top = margin
    for weight in weights:
        row_height = int(usable * weight / sum(weights))
        if not tall and rng.random() < 0.5:
            split = rng.randint(width // 3, 2 * width // 3)
            _panel(draw, (margin, top, split - gutter // 2, top + row_height), rng, comic.tint)
            _panel(draw, (split + gutter // 2, top, width - margin, top + row_height), rng, comic.tint)
        else:
            _panel(draw, (margin, top, width - margin, top + row_height), rng, comic.tint)
        top += row_height + gutter
    label = f"{comic.title} · Chương {chapter.number} · Trang {page}"
    draw.text((margin, height - 50), label, fill=(90, 90, 90), font=_font(22))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


@functools.cache
def render_cover(comic_id: int) -> bytes:
    comic = next(item for item in COMICS if item.comic_id == comic_id)
    image = Image.new("RGB", (300, 400), comic.tint)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(_wrap(draw, comic.title, _font(30), 260)):
        draw.text((20, 150 + row * 40), line, fill="black", font=_font(30))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


# --- pages -------------------------------------------------------------------------------
def _page(title: str, body: str, script: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} - NetTruyen</title></head>\n"
        f'<body><script>var gOpts={{}};gOpts.host="fixture";{script}</script>\n'
        f'<main class="main"><div class="container">{body}</div></main></body></html>\n'
    )


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early (a size cap, a timeout) is normal here, not a traceback."""


class FixtureSite:
    """The site on 127.0.0.1; port 0 picks a free one. Use as a context manager."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._flaky_hits: Counter[str] = Counter()
        self.requests: list[tuple[str, str, str]] = []

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fixture site is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FixtureSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                site._handle(self, "GET")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                site._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._stopping.clear()
        self._server = _QuietServer(self._address, Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fixture-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FixtureSite:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- dispatch -----------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        referer = request.headers.get("Referer", "")
        with self._lock:
            self.requests.append((method, request.path, referer))
        parts = urlsplit(request.path)
        path = parts.path
        if "Mozilla/" not in request.headers.get("User-Agent", ""):
            # as Cloudflare's bot protection treats python-requests and curl on the real site
            self._send(request, 403, "text/html; charset=utf-8", self._challenge().encode(), CHALLENGE_HEADERS)
            return
        if path.startswith("/cham/"):
            self._stopping.wait(STALL_SECONDS)
            return
        if path.startswith("/flaky/"):
            with self._lock:
                self._flaky_hits[request.path] += 1
                hits = self._flaky_hits[request.path]
            # a bare 502 first: urllib3 retries a 503 with Retry-After even when it was not asked to
            if hits == 1:
                self._send(request, 502, "text/plain; charset=utf-8", b"bad gateway")
                return
            if hits == 2:
                self._send(request, 503, "text/plain; charset=utf-8", b"busy, try again", {"Retry-After": "0"})
                return
            path = path.removeprefix("/flaky")
        if match := re.fullmatch(r"/anh-chunked/(\d+)/(\d{3})\.jpg", path):
            self._send_chunked(request, render_page(int(match.group(1)), int(match.group(2))))
            return
        status, content_type, body, headers = self._route(method, path, parse_qs(parts.query), referer)
        self._send(request, status, content_type, body, headers)

    def _send_chunked(self, request: Any, body: bytes) -> None:
        """An image whose size only shows as it arrives: the download's byte cap must stop it mid-stream."""
        request.send_response(200)
        request.send_header("Content-Type", "image/jpeg")
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        for start in range(0, len(body), 16 * 1024):
            piece = body[start : start + 16 * 1024]
            request.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        request.wfile.write(b"0\r\n\r\n")

    def _send(self, request: Any, status: int, content_type: str, body: bytes, headers: dict | None = None) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)

    def _route(self, method: str, path: str, query: dict[str, list[str]], referer: str) -> tuple:
        html_type = "text/html; charset=utf-8"
        if path == "/" and method == "GET":
            return 200, html_type, self._listing().encode(), {}
        if path == CHALLENGE_PATH:
            return 403, html_type, self._challenge().encode(), CHALLENGE_HEADERS
        if path == EMPTY_PATH:
            return 200, html_type, self._chapter_page(None, None).encode(), {}
        if match := re.fullmatch(r"/(anh|cdn|anh-hong)/(\d+)/(\d{3})\.jpg", path):
            return self._image(match.group(1), int(match.group(2)), int(match.group(3)), referer)
        if path.startswith("/anh-gia/"):
            return 200, html_type, b"<html><body>Not an image</body></html>", {}
        if match := re.fullmatch(r"/bia/(\d+)\.jpg", path):
            return 200, "image/jpeg", render_cover(int(match.group(1))), {}
        if match := re.fullmatch(r"/ajax/image/list/chap/(\d+)", path):
            if method != "POST":
                return 405, "application/json", b'{"status": false, "msg": "POST only"}', {}
            return 200, "application/json", json.dumps(self._ajax_images(int(match.group(1)))).encode(), {}
        if path == "/Comic/Services/ComicService.asmx/ChapterList":
            return self._chapter_list(query)
        for comic in (*COMICS, HOOK_COMIC):
            if path == comic.path:
                return 200, html_type, self._detail(comic).encode(), {}
            for chapter in comic.chapters:
                if path == comic.chapter_path(chapter):
                    return 200, html_type, self._chapter_page(comic, chapter).encode(), {}
        return 404, html_type, _page("404", "<h1>Không tìm thấy trang</h1>").encode(), {}

    def _image(self, host: str, chapter_id: int, page: int, referer: str) -> tuple:
        if host == "anh-hong":
            return 404, "text/plain", b"gone", {}
        if not referer.startswith(self.base_url + "/"):
            return 403, "text/plain", b"hotlinking is not allowed", {}
        found = find_chapter(chapter_id)
        if found is None or not 1 <= page <= found[1].pages:
            return 404, "text/plain", b"no such page", {}
        data = render_page(chapter_id, page)
        if chapter_id == HOOK_COMIC.chapters[0].chapter_id and page == 2:
            data = data[: len(data) * 3 // 5]
        return 200, "image/jpeg", data, {"Cache-Control": "max-age=86400"}

    # --- markup -------------------------------------------------------------------------
    def _listing(self) -> str:
        slides = "".join(
            f'<div class="item"><a href="{self.base_url}{comic.path}" title="{html.escape(comic.title)}">'
            f'<img class="lazyOwl" src="/bia/{comic.comic_id}.jpg" data-src="/bia/{comic.comic_id}.jpg"></a>'
            f'<div class="slide-caption"><h3><a href="{self.base_url}{comic.path}">{html.escape(comic.title)}</a></h3>'
            "</div></div>"
            for comic in reversed(COMICS)
        )
        items = []
        for comic in COMICS:
            latest = "".join(
                f'<li class="chapter clearfix"><a data-id="{chapter.chapter_id}" '
                f'href="{self.base_url}{comic.chapter_path(chapter)}" title="Chapter {chapter.number}">'
                f'Chapter {chapter.number}</a><i class="time">{chapter.updated}</i></li>'
                for chapter in reversed(comic.chapters[-3:])
            )
            title = html.escape(comic.title)
            items.append(
                '<div class="item"><figure class="clearfix"><div class="image">'
                f'<a title="Truyện tranh {title}" href="{self.base_url}{comic.path}">'
                f'<img src="{PIXEL_GIF}" class="lazy center" data-original="//{self._host}/bia/{comic.comic_id}.jpg">'
                "</a></div><figcaption><h3>"
                f'<a class="jtip" data-jtip="#truyen-tranh-{comic.comic_id}" href="{self.base_url}{comic.path}">'
                f'{title}</a></h3><ul class="comic-item" data-id="{comic.comic_id}">{latest}</ul>'
                "</figcaption></figure></div>"
            )
        body = (
            '<div class="top-comics"><h2 class="page-title">Truyện đề cử</h2><div class="items-slide">'
            f'<div class="owl-carousel clearfix">{slides}</div></div></div>'
            '<div class="row"><div id="ctl00_divCenter" class="center-side col-md-8"><div class="items">'
            f'<h1 class="page-title">Truyện mới cập nhật</h1><div class="row">{"".join(items)}</div></div></div></div>'
        )
        return _page("Truyện mới cập nhật", body)

    @property
    def _host(self) -> str:
        return self.base_url.split("://", 1)[1]

    def _detail(self, comic: FixtureComic) -> str:
        title = html.escape(comic.title)
        rows = []
        if comic.layout != "json-list":
            for position, chapter in enumerate(reversed(comic.chapters)):
                collapsed = position >= 3 and comic.layout == "classic"
                attributes = 'class="row less" style="display:none"' if collapsed else 'class="row"'
                rows.append(
                    f'<li {attributes}><div class="col-xs-5 chapter">'
                    f'<a href="{self.base_url}{comic.chapter_path(chapter)}" data-id="{chapter.chapter_id}">'
                    f'Chapter {chapter.number}</a></div><div class="col-xs-4 text-center no-wrap small">'
                    f"{chapter.updated}</div></li>"
                )
        more = '<a class="view-more" href="javascript:void(0)">+ Xem thêm</a>' if len(comic.chapters) > 3 else ""
        body = (
            f'<article id="item-detail"><h1 class="title-detail">{title}</h1>'
            f'<div class="detail-content"><p>{html.escape(comic.summary)}</p></div>'
            '<div class="list-chapter" id="nt_listchapter"><h2 class="list-title">Danh sách chương</h2>'
            f"<nav><ul>{''.join(rows)}</ul></nav>{more}</div></article>"
        )
        head_link = f'<link rel="canonical" href="{self.base_url}{comic.path}">'
        return _page(comic.title, head_link + body, f"gOpts.comicId={comic.comic_id};gOpts.chapterId=-1;")

    def _chapter_list(self, query: dict[str, list[str]]) -> tuple:
        slug = (query.get("slug") or [""])[0]
        comic = next((item for item in COMICS if item.slug == slug), None)
        if comic is None:
            return 200, "application/json", b'{"success": false, "data": []}', {}
        data = [
            {
                "comic_id": comic.comic_id,
                "chapter_id": chapter.chapter_id,
                "chapter_name": f"Chapter {chapter.number}",
                "chapter_slug": f"chap-{chapter.number}",
                "chapter_num": chapter.number,
                "updated_at": f"2026-04-{chapter.number + 10:02d} 10:00:00",
            }
            for chapter in reversed(comic.chapters)
        ]
        return 200, "application/json", json.dumps({"success": True, "data": data}).encode(), {}

    def _ajax_images(self, chapter_id: int) -> dict[str, Any]:
        found = find_chapter(chapter_id)
        if found is None:
            return {"status": True, "html": ""}
        cards = "".join(
            f'<div class="iv-card" data-index="{page}"><img class="image-vertical" src="/images/loading.gif" '
            f'data-src="{self.base_url}/anh/{chapter_id}/{page:03d}.jpg" alt="Trang {page}"></div>'
            for page in range(1, found[1].pages + 1)
        )
        return {"status": True, "html": f'<div class="container-reader-chapter">{cards}</div>'}

    def _chapter_page(self, comic: FixtureComic | None, chapter: FixtureChapter | None) -> str:
        if comic is None or chapter is None:
            heading = (
                "<h1 class='txt-primary'><a href='/truyen-tranh/trang-trang-9004'>Trang Trắng</a>"
                " <span>- Chapter 1</span></h1>"
            )
            return _page("Trang Trắng", f"<div class='reading'>{heading}<div class='reading-detail'></div></div>")
        title = html.escape(comic.title)
        heading = (
            f"<h1 class='txt-primary'><a href='{self.base_url}{comic.path}'>{title}</a> "
            f"<span>- Chapter {chapter.number}</span></h1>"
        )
        if comic.layout == "ajax":
            reader = (
                '<div class="reading-detail">'
                f'<div id="chapter-reader" data-reading-id="{chapter.chapter_id}"></div></div>'
            )
            script = f"const CHAPTER_ID = {chapter.chapter_id};"
        else:
            reader = (
                "<div class='reading-detail box_doc'>"
                + "".join(self._classic_image(comic, chapter, page) for page in range(1, chapter.pages + 1))
                + "</div>"
            )
            script = f"gOpts.comicId={comic.comic_id};gOpts.chapterId={chapter.chapter_id};"
        return _page(f"{comic.title} Chapter {chapter.number}", f"<div class='reading'>{heading}{reader}</div>", script)

    def _classic_image(self, comic: FixtureComic, chapter: FixtureChapter, page: int) -> str:
        alt = f"{html.escape(comic.title)} chap {chapter.number} - Trang {page}"
        if comic.layout == "json-list":
            attributes = f"src='/images/loading.gif' data-src='/anh/{chapter.chapter_id}/{page:03d}.jpg'"
        else:
            primary = "anh-hong" if chapter.chapter_id == DEAD_HOST_CHAPTER else "anh"
            attributes = (
                f"src='{PIXEL_GIF}' data-original='//{self._host}/{primary}/{chapter.chapter_id}/{page:03d}.jpg' "
                f"data-cdn='//{self._host}/cdn/{chapter.chapter_id}/{page:03d}.jpg'"
            )
        return f"<div id='page_{page}' class='page-chapter'><img alt='{alt}' data-index='{page}' {attributes} /></div>"

    @staticmethod
    def _challenge() -> str:
        return (
            "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
            "<h1>Checking your browser before accessing the site.</h1>"
            "<script>window._cf_chl_opt={cvId: '3', cType: 'managed'};</script></body></html>"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the NetTruyen-like fixture site on loopback.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    site = FixtureSite(port=args.port, host=args.host).start()
    print(f"fixture site at {site.base_url}/ (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()


if __name__ == "__main__":
    main()
