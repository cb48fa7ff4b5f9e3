"""NetTruyen (WPComics theme) scraper: latest-updated listing, a comic's chapters, a chapter's pages.

Written for the family of sites, not one capture of it: the domain changes (so site pages
are fetched by path from the configured base URL and its ordered fallbacks), image URLs sit
in data-original, data-src or src behind lazy-load placeholders and are often
protocol-relative, each image may carry a data-cdn fallback host, newer chapter pages carry
no <img> and load the list with a POST to /ajax/image/list/chap/{id}, and some detail pages
leave the chapter list to the JSON endpoint behind their "Xem thêm" button. Image hosts
want the site as Referer. Cloudflare sometimes answers instead of the site: that is a
named error, never a page we try to parse.

Debug the selectors when the site changes:
    python -m manga2video.sources.nettruyen {listing|comic|chapter} --url URL [--html FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import re
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import requests
from bs4 import BeautifulSoup, Tag
from PIL import Image, UnidentifiedImageError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from manga2video.config import Settings, get_settings
from manga2video.errors import (
    ChapterNotFoundError,
    CloudflareChallengeError,
    InvalidImageError,
    NoImagesError,
    SourceUnavailableError,
)

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
RETRY_STATUSES = (429, 500, 502, 503, 504)
RETRY_AFTER_CAP_SECONDS = 30.0
# Cloudflare's interstitials: the header of its managed challenge, and the markers of its pages.
_CHALLENGE_TITLES = ("<title>just a moment", "<title>attention required! | cloudflare", "checking your browser")
_CHALLENGE_MARKERS = ("_cf_chl_opt", "cf-browser-verification", "cf_chl_prog")
# a lazy-load stand-in: an inline data: URI or a tiny named file such as loading.gif or blank.png
_PLACEHOLDER = re.compile(
    r"^data:|/[^/]*(?:loading|lazy|placeholder|blank|spacer|pixel|1x1)[^/]*\.(?:gif|png|svg|webp|jpe?g)(?:\?|$)",
    re.IGNORECASE,
)
_IMAGE_ATTRIBUTES = ("data-original", "data-src", "data-lazy-src", "src")
_FALLBACK_ATTRIBUTES = ("data-cdn", "data-back", "data-fallback")
_ACCEPTED_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")
_CHAPTER_NUMBER = re.compile(r"(?:chap(?:ter)?|chương|ch\.)\s*(\d+(?:[.,]\d+)?)", re.IGNORECASE)
_ANY_NUMBER = re.compile(r"(\d+(?:[.,]\d+)?)")
_SCRIPT_IDS = {
    "comic": (r"comicId\s*=\s*['\"]?(\d+)", r"COMIC_ID\s*=\s*['\"]?(\d+)", r"comic_id\s*=\s*['\"]?(\d+)"),
    "chapter": (r"chapterId\s*=\s*['\"]?(\d+)", r"CHAPTER_ID\s*=\s*['\"]?(\d+)", r"chapter_id\s*=\s*['\"]?(\d+)"),
}


# --- what the parsers return ------------------------------------------------------------
@dataclass(frozen=True)
class ChapterLink:
    title: str
    url: str

    @property
    def number(self) -> float | None:
        """The chapter number from its title ("Chapter 20.5"), else from its URL slug."""
        match = _CHAPTER_NUMBER.search(self.title) or _ANY_NUMBER.search(self.title)
        if not match:
            segments = _story_segments(self.url)
            match = _ANY_NUMBER.search(segments[1]) if len(segments) > 1 else None
        return float(match.group(1).replace(",", ".")) if match else None

    @property
    def comic_key(self) -> str:
        """The comic's slug as the chapter URL spells it: the same on every domain."""
        segments = _story_segments(self.url)
        if not segments:
            raise ChapterNotFoundError(f"not a chapter URL: {self.url}")
        return segments[0]

    @property
    def chapter_key(self) -> str:
        """comic slug / chapter id (or the chapter slug when the URL has no id)."""
        segments = _story_segments(self.url)
        if len(segments) < 2:
            raise ChapterNotFoundError(f"not a chapter URL: {self.url}")
        return f"{segments[0]}/{segments[-1]}"

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "url": self.url}


@dataclass(frozen=True)
class ComicSummary:
    """A comic as the latest-updated listing shows it, with its newest chapters first."""

    title: str
    url: str
    chapters: tuple[ChapterLink, ...] = ()

    def as_json(self) -> dict[str, Any]:
        latest = self.chapters[0].as_json() if self.chapters else None
        return {"title": self.title, "url": self.url, "latest_chapter": latest}


@dataclass(frozen=True)
class ComicDetail:
    title: str
    url: str
    comic_id: str | None
    slug: str
    chapters: tuple[ChapterLink, ...]  # newest first

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "url": self.url,
            "comic_id": self.comic_id,
            "chapters": [chapter.as_json() for chapter in self.chapters],
        }


@dataclass(frozen=True)
class PageImage:
    """One page: its URL and the mirrors (data-cdn) to try when that host fails."""

    url: str
    fallbacks: tuple[str, ...] = ()

    @property
    def candidates(self) -> tuple[str, ...]:
        return (self.url, *self.fallbacks)


@dataclass(frozen=True)
class ChapterPage:
    url: str
    comic_title: str
    chapter_title: str
    comic_url: str
    chapter_id: str | None
    images: tuple[PageImage, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "comic_title": self.comic_title,
            "chapter_title": self.chapter_title,
            "comic_url": self.comic_url,
            "chapter_id": self.chapter_id,
            "images": [image.url for image in self.images],
        }


@dataclass(frozen=True)
class Jpeg:
    data: bytes
    width: int
    height: int


# --- parsers: markup in, data out; no network --------------------------------------------
def _soup(html: str | bytes) -> BeautifulSoup:
    return BeautifulSoup(html, "lxml")


def _text(node: Tag | None) -> str:
    return " ".join(node.get_text(" ", strip=True).split()) if node else ""


def _story_segments(url: str) -> list[str]:
    """The path segments after /truyen-tranh/ (or the whole path on sites without it)."""
    segments = [part for part in urlsplit(url).path.split("/") if part]
    if "truyen-tranh" in segments:
        segments = segments[segments.index("truyen-tranh") + 1 :]
    return segments


def absolute_url(raw: str, page_url: str) -> str:
    """Resolve an attribute's URL against the page; `//host/x` takes the page's scheme."""
    value = raw.strip()
    if value.startswith("//"):
        return f"{urlsplit(page_url).scheme or 'https'}:{value}"
    return urljoin(page_url, value)


def _first_id(html: str, kind: str) -> str | None:
    for pattern in _SCRIPT_IDS[kind]:
        match = re.search(pattern, html)
        if match and int(match.group(1)) > 0:
            return match.group(1)
    return None


def _is_chapter_href(href: str) -> bool:
    return len(_story_segments(href)) >= 2 and bool(re.search(r"chap|chuong|chapter", href, re.IGNORECASE))


def _newest_first(chapters: list[ChapterLink]) -> tuple[ChapterLink, ...]:
    """Lists come newest first on NetTruyen; reverse one that plainly runs the other way."""
    numbers = [chapter.number for chapter in chapters if chapter.number is not None]
    if len(numbers) >= 2 and numbers[0] < numbers[-1]:
        chapters = list(reversed(chapters))
    return tuple(chapters)


def _unique_links(anchors: Iterable[Tag], page_url: str) -> list[ChapterLink]:
    seen: set[str] = set()
    links = []
    for anchor in anchors:
        href = anchor.get("href")
        if not href or not _is_chapter_href(str(href)):
            continue
        url = absolute_url(str(href), page_url)
        if url in seen:
            continue
        seen.add(url)
        links.append(ChapterLink(title=_text(anchor) or str(anchor.get("title", "")), url=url))
    return links


_READER = ".reading-detail, #chapter-content, .chapter-content, .reading-content, .container-reader-chapter"
_LISTING_ITEMS = ("div.items div.item", "#ctl00_divCenter .item", "ul.list-unstyled > li", ".list-truyen .row")
_LISTING_TITLES = ("figcaption h3 a", "h3 a", ".title a", "a.jtip", "a[title]")
_LISTING_CHAPTERS = ("li.chapter > a", "p.chapter > a", ".comic-item a", ".chapter-item a")


def parse_listing(html: str | bytes, page_url: str) -> list[ComicSummary]:
    """The latest-updated grid (not the "hot" carousel above it), in the site's order."""
    soup = _soup(html)
    items: list[Tag] = []
    for selector in _LISTING_ITEMS:
        items = soup.select(selector)
        if items:
            break
    comics: list[ComicSummary] = []
    seen: set[str] = set()
    for item in items:
        anchor = next((found for sel in _LISTING_TITLES if (found := item.select_one(sel)) is not None), None)
        if anchor is None or not anchor.get("href"):
            continue
        url = absolute_url(str(anchor["href"]), page_url)
        title = _text(anchor) or str(anchor.get("title", "")).removeprefix("Truyện tranh ").strip()
        if url in seen or not title:
            continue
        seen.add(url)
        chapter_anchors = [a for sel in _LISTING_CHAPTERS for a in item.select(sel)]
        comics.append(ComicSummary(title=title, url=url, chapters=tuple(_unique_links(chapter_anchors, page_url))))
    return comics


def parse_comic(html: str | bytes, page_url: str) -> ComicDetail:
    """A comic's detail page; chapters may be empty when the site serves them as JSON."""
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    soup = _soup(text)
    title_node = soup.select_one("h1.title-detail") or soup.select_one("#item-detail h1") or soup.select_one("h1")
    og_title = soup.select_one("meta[property='og:title']")
    title = _text(title_node) or (str(og_title.get("content", "")).strip() if og_title else "")
    if not title:
        raise ChapterNotFoundError(f"{page_url} has no comic title: not a comic page, or the layout changed")
    canonical = soup.select_one("link[rel='canonical']") or soup.select_one("meta[property='og:url']")
    url = page_url
    if canonical is not None and (canonical.get("href") or canonical.get("content")):
        url = absolute_url(str(canonical.get("href") or canonical.get("content")), page_url)
    container = soup.select_one("#nt_listchapter, div.list-chapter, #list-chapter, .list-chapters, #desc")
    anchors = container.select("li a[href]") if container is not None else []
    slug_with_id = _story_segments(url)[0] if _story_segments(url) else ""
    comic_id = _first_id(text, "comic") or (m.group(1) if (m := re.search(r"-(\d+)$", slug_with_id)) else None)
    slug = re.sub(rf"-{comic_id}$", "", slug_with_id) if comic_id else slug_with_id
    return ComicDetail(
        title=title, url=url, comic_id=comic_id, slug=slug, chapters=_newest_first(_unique_links(anchors, page_url))
    )


def parse_chapter_list_json(payload: Any, comic: ComicDetail) -> tuple[ChapterLink, ...]:
    """The ChapterList endpoint: {"data": [{"chapter_name", "chapter_slug", "chapter_id"}, ...]}."""
    rows = payload.get("data") if isinstance(payload, dict) else payload
    if not isinstance(rows, list):
        raise ChapterNotFoundError(f"the chapter list of {comic.url} is not a list: {str(payload)[:200]}")
    base = f"{urlsplit(comic.url).scheme}://{urlsplit(comic.url).netloc}"
    links = []
    for row in rows:
        if not isinstance(row, dict) or not row.get("chapter_slug"):
            continue
        path = f"/truyen-tranh/{comic.slug}/{row['chapter_slug']}"
        if row.get("chapter_id"):
            path += f"/{row['chapter_id']}"
        links.append(ChapterLink(title=str(row.get("chapter_name") or row["chapter_slug"]), url=base + path))
    return _newest_first(links)


def _image_of(img: Tag, page_url: str) -> PageImage | None:
    """The first real URL among the lazy-load attributes; the others become fallbacks."""
    found: list[str] = []
    for name in (*_IMAGE_ATTRIBUTES, *_FALLBACK_ATTRIBUTES):
        value = str(img.get(name) or "").strip()
        if not value or _PLACEHOLDER.search(value):
            continue
        url = absolute_url(value, page_url)
        if url not in found:
            found.append(url)
    return PageImage(url=found[0], fallbacks=tuple(found[1:])) if found else None


def parse_images(fragment: str | bytes | Tag, page_url: str) -> tuple[PageImage, ...]:
    """Page images in reading order (data-index when every image has one, else document order)."""
    soup = fragment if isinstance(fragment, Tag) else _soup(fragment)
    imgs: list[Tag] = []
    for selector in (".reading-detail .page-chapter img", ".page-chapter img", ".reading-detail img", "img"):
        imgs = soup.select(selector)
        if imgs:
            break
    if all(str(img.get("data-index", "")).isdigit() for img in imgs):
        imgs = sorted(imgs, key=lambda img: int(img["data-index"]))
    images: list[PageImage] = []
    for img in imgs:
        image = _image_of(img, page_url)
        if image is not None and all(image.url != seen.url for seen in images):
            images.append(image)
    return tuple(images)


def parse_chapter(html: str | bytes, page_url: str) -> ChapterPage:
    """A chapter reader page; images may be empty when the page loads them by ajax."""
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    soup = _soup(text)
    heading = soup.select_one("h1.txt-primary") or soup.select_one(".reading h1") or soup.select_one("h1")
    crumbs = soup.select(".breadcrumb a")
    comic_anchor = heading.select_one("a") if heading is not None else None
    comic_anchor = comic_anchor or (crumbs[-2] if len(crumbs) >= 2 else None)
    chapter_node = heading.select_one("span") if heading is not None else None
    chapter_title = _text(chapter_node).lstrip("-– ").strip() or (_text(crumbs[-1]) if crumbs else "")
    comic_title = _text(comic_anchor)
    if not comic_title and not chapter_title:
        raise ChapterNotFoundError(f"{page_url} is not a chapter page (no title), or the layout changed")
    # only the reader's own images: a page without them loads them by ajax (never the logo and ads)
    reading = soup.select_one(_READER)
    images = parse_images(reading, page_url) if reading is not None and reading.select("img") else ()
    reader_id = soup.select_one("[data-reading-id]")
    chapter_id = _first_id(text, "chapter") or (str(reader_id["data-reading-id"]) if reader_id is not None else None)
    if chapter_id is None and (segments := _story_segments(page_url)) and segments[-1].isdigit():
        chapter_id = segments[-1]
    return ChapterPage(
        url=page_url,
        comic_title=comic_title,
        chapter_title=chapter_title,
        comic_url=absolute_url(str(comic_anchor.get("href", "")), page_url) if comic_anchor is not None else "",
        chapter_id=chapter_id,
        images=images,
    )


def parse_ajax_images(payload: Any, page_url: str) -> tuple[PageImage, ...]:
    """The image-list POST: {"status": true, "html": "<div class='page-chapter'>...</div>"}."""
    if not isinstance(payload, dict):
        raise NoImagesError(f"the image list for {page_url} is not a JSON object")
    if payload.get("status") is False or not payload.get("html"):
        raise NoImagesError(f"the image list for {page_url} is empty: {str(payload.get('msg') or '')[:200]}")
    return parse_images(str(payload["html"]), page_url)


def is_challenge(status: int, headers: Any, body_start: str) -> bool:
    """Cloudflare answered instead of the site (a page to solve, not content)."""
    if str(headers.get("cf-mitigated", "")).lower() == "challenge":
        return True
    lowered = body_start.lower()
    if any(marker in lowered for marker in _CHALLENGE_TITLES):
        return True
    return status in (403, 429, 503) and any(marker in lowered for marker in _CHALLENGE_MARKERS)


# --- images: validated and made JPEG --------------------------------------------------------
def to_jpeg(data: bytes, *, max_pixels: int, quality: int = 90) -> Jpeg:
    """Decode fully (a truncated file fails here), refuse bombs, and give back JPEG bytes.

    A JPEG that is already RGB or greyscale is kept as it came (no second lossy pass).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise InvalidImageError(f"image of {width}x{height} is over the {max_pixels} pixel cap")
                image.load()
                if image.format == "JPEG" and image.mode in ("RGB", "L"):
                    return Jpeg(data=data, width=width, height=height)
                if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
                    rgba = image.convert("RGBA")
                    flat = Image.new("RGB", rgba.size, "white")
                    flat.paste(rgba, mask=rgba.getchannel("A"))
                else:
                    flat = image.convert("RGB")
    except InvalidImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError(f"not a usable image: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImageError(f"broken image: {exc}") from exc
    out = io.BytesIO()
    flat.save(out, "JPEG", quality=quality, optimize=True)
    return Jpeg(data=out.getvalue(), width=width, height=height)


# --- the client ------------------------------------------------------------------------------
class _CappedRetry(Retry):
    """Honour Retry-After, but never sleep longer than a Lambda invocation can afford."""

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, RETRY_AFTER_CAP_SECONDS)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class NetTruyenClient:
    """Site pages by path over the ordered domains; images straight from their hosts."""

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.bases = tuple(
            dict.fromkeys(url.rstrip("/") for url in (settings.source_base_url, *settings.source_fallback_urls) if url)
        )
        if not self.bases:
            raise SourceUnavailableError("no source URL configured (M2V_SOURCE_BASE_URL)")
        self._preferred = self.bases[0]
        self.session = session or self._new_session()

    def _new_session(self) -> requests.Session:
        retry = _CappedRetry(
            total=self.settings.source_retries,
            backoff_factor=self.settings.source_backoff_seconds,
            backoff_max=RETRY_AFTER_CAP_SECONDS,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD", "POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        pool = max(10, self.settings.download_concurrency)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=pool, pool_maxsize=pool)
        session = requests.Session()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update(
            {"User-Agent": USER_AGENT, "Accept-Language": "vi-VN,vi;q=0.9,en;q=0.8", "Accept": "*/*"}
        )
        return session

    def url_for(self, path_or_url: str) -> str:
        """A follow-list entry (URL, path or bare slug) as a URL on the current domain."""
        value = path_or_url.strip()
        if "://" in value or value.startswith("/"):
            return value if "://" in value else self._preferred + value
        return f"{self._preferred}/truyen-tranh/{quote(value)}"

    def _relative_path(self, url: str) -> str:
        """The part of url after the site's root, whichever domain (or mirror prefix) it names."""
        for base in self.bases:
            if url == base or url.startswith(base + "/"):
                return url[len(base) :] or "/"
        target = urlsplit(url)
        return urlunsplit(("", "", target.path or "/", target.query, ""))

    def _site(self, url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> requests.Response:
        """The page at url's path, from the working domain first and the others in order."""
        path = self._relative_path(url)
        bases = (self._preferred, *(base for base in self.bases if base != self._preferred))
        failures: list[str] = []
        challenged = False
        for base in bases:
            full = base + path
            try:
                response = self.session.request(
                    method,
                    full,
                    headers={"Referer": base + "/", **(headers or {})},
                    timeout=self.settings.source_timeout_seconds,
                )
            except requests.RequestException as exc:
                failures.append(f"{full}: {type(exc).__name__}: {exc}")
                continue
            if is_challenge(response.status_code, response.headers, response.text[:4000]):
                challenged = True
                failures.append(f"{full}: Cloudflare challenge (HTTP {response.status_code})")
                continue
            if response.status_code in (404, 410):
                raise ChapterNotFoundError(f"{full} answered {response.status_code}")
            if response.status_code >= 400:
                failures.append(f"{full}: HTTP {response.status_code}")
                continue
            self._preferred = base
            return response
        if challenged:
            raise CloudflareChallengeError("; ".join(failures))
        raise SourceUnavailableError("every source domain failed: " + "; ".join(failures))

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise SourceUnavailableError(f"{response.url} did not answer JSON: {response.text[:200]!r}") from exc

    def listing(self) -> list[ComicSummary]:
        response = self._site(self._preferred + "/")
        return parse_listing(response.content, response.url)

    def comic(self, url: str) -> ComicDetail:
        response = self._site(url)
        detail = parse_comic(response.content, response.url)
        if detail.chapters:
            return detail
        query = f"slug={quote(detail.slug)}" + (f"&comicId={detail.comic_id}" if detail.comic_id else "")
        listed = self._site(
            f"{_origin(response.url)}/Comic/Services/ComicService.asmx/ChapterList?{query}",
            headers={"X-Requested-With": "XMLHttpRequest", "Accept": "application/json", "Referer": response.url},
        )
        chapters = parse_chapter_list_json(self._json(listed), detail)
        if not chapters:
            raise ChapterNotFoundError(f"{detail.url} lists no chapters, neither in its page nor as JSON")
        return dataclasses.replace(detail, chapters=chapters)

    def chapter(self, url: str) -> ChapterPage:
        response = self._site(url)
        page = parse_chapter(response.content, response.url)
        if page.images:
            return page
        if page.chapter_id is None:
            raise NoImagesError(f"{response.url} has no images and no chapter id to ask the image list for")
        listed = self._site(
            f"{_origin(response.url)}/ajax/image/list/chap/{page.chapter_id}",
            method="POST",
            headers={"X-Requested-With": "XMLHttpRequest", "Accept": "application/json", "Referer": response.url},
        )
        images = parse_ajax_images(self._json(listed), response.url)
        if not images:
            raise NoImagesError(f"{response.url} has no page images, neither in its page nor its image list")
        return dataclasses.replace(page, images=images)

    def fetch_jpeg(self, image: PageImage, *, referer: str) -> Jpeg:
        """The page as JPEG, from its host or, failing that, its mirrors."""
        failures: list[Exception] = []
        for url in image.candidates:
            try:
                return to_jpeg(self._download(url, referer=referer), max_pixels=self.settings.image_max_pixels)
            except (InvalidImageError, CloudflareChallengeError, SourceUnavailableError) as exc:
                failures.append(exc)
        summary = "; ".join(str(failure) for failure in failures)
        for kind in (InvalidImageError, CloudflareChallengeError):
            if any(isinstance(failure, kind) for failure in failures):
                raise kind(summary)
        raise SourceUnavailableError(summary)

    def _download(self, url: str, *, referer: str) -> bytes:
        """The raw bytes, refused early when they cannot be a page image or are too big."""
        cap = self.settings.image_max_bytes
        headers = {"Referer": referer, "Accept": "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"}
        try:
            with self.session.get(
                url, headers=headers, timeout=self.settings.source_timeout_seconds, stream=True
            ) as response:
                kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if response.status_code >= 400 or kind.startswith("text/"):
                    head = response.raw.read(4000, decode_content=True).decode("utf-8", "replace")
                    if is_challenge(response.status_code, response.headers, head):
                        raise CloudflareChallengeError(f"{url}: Cloudflare challenge on the image host")
                    if response.status_code >= 400:
                        raise SourceUnavailableError(f"{url}: HTTP {response.status_code}")
                if kind and not kind.startswith(_ACCEPTED_TYPES):
                    raise InvalidImageError(f"{url}: not an image (Content-Type {kind})")
                if int(response.headers.get("Content-Length") or 0) > cap:
                    raise InvalidImageError(f"{url}: {response.headers['Content-Length']} bytes is over the cap")
                body = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    body.extend(chunk)
                    if len(body) > cap:
                        raise InvalidImageError(f"{url}: more than {cap} bytes")
        except requests.RequestException as exc:
            raise SourceUnavailableError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if not body:
            raise InvalidImageError(f"{url}: empty body")
        return bytes(body)


# --- the debug command --------------------------------------------------------------------
def _parse_saved(kind: str, html: str, url: str) -> dict[str, Any]:
    if kind == "listing":
        return {"comics": [comic.as_json() for comic in parse_listing(html, url)]}
    if kind == "comic":
        return parse_comic(html, url).as_json()
    return parse_chapter(html, url).as_json()


def _fetch_live(kind: str, url: str, settings: Settings) -> dict[str, Any]:
    client = NetTruyenClient(dataclasses.replace(settings, source_base_url=_origin(url)))
    if kind == "listing":
        return {"comics": [comic.as_json() for comic in client.listing()]}
    if kind == "comic":
        return client.comic(url).as_json()
    return client.chapter(url).as_json()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m manga2video.sources.nettruyen",
        description="Print what the scraper reads from a NetTruyen page, as JSON (to debug selectors).",
    )
    parser.add_argument("kind", choices=("listing", "comic", "chapter"))
    parser.add_argument("--url", required=True, help="the page's URL (also resolves relative links in --html)")
    parser.add_argument("--html", help="parse this saved page instead of fetching --url")
    args = parser.parse_args(argv)
    try:
        if args.html:
            with open(args.html, encoding="utf-8", errors="replace") as handle:
                result = _parse_saved(args.kind, handle.read(), args.url)
        else:
            result = _fetch_live(args.kind, args.url, get_settings())
    except (ChapterNotFoundError, CloudflareChallengeError, NoImagesError, SourceUnavailableError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
