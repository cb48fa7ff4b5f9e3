"""A fake YouTube Data API and OAuth token endpoint on loopback, with injectable faults.

It speaks the resumable upload protocol as Google's servers do: a POST opens a session
and answers its URI in Location; each PUT carries `Content-Range: bytes a-b/total` and is
answered 308 with the `Range` held so far, or 200 with the video resource once complete;
`Content-Range: bytes */total` asks for the offset. Chunks must be multiples of 256 KiB
except the last. Metadata is checked against YouTube's limits, so a too-long title fails
here as it would there. Every received byte is counted, so tests can tell what was re-sent.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CHUNK_MULTIPLE = 256 * 1024
UPLOAD_PATH = "/upload/youtube/v3/videos"


@dataclass
class Faults:
    """What goes wrong; tests set these between runs."""

    unavailable_chunks: set[int] = field(default_factory=set)  # these chunk PUTs (1-based, server's life): 503
    quota_on_insert: bool = False  # the session POST: 403 quotaExceeded
    upload_limit_on_insert: bool = False  # the session POST: 400 uploadLimitExceeded
    quota_from_fraction: float | None = None  # chunk PUTs starting at or past this fraction of the file: 403
    thumbnail_quota: bool = False  # thumbnails.set: 403 quotaExceeded
    thumbnail_forbidden: bool = False  # thumbnails.set: 403 forbidden (a channel not verified for thumbnails)
    invalid_grant: bool = False  # the token endpoint refuses the refresh token
    stall_on_chunk: int | None = None  # the Nth chunk PUT: read half its body, then hang until `release`


@dataclass
class Session:
    metadata: dict[str, Any]
    total: int
    data: bytearray = field(default_factory=bytearray)
    video_id: str | None = None


@dataclass
class Video:
    video_id: str
    resource: dict[str, Any]
    data: bytes


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str, domain: str = "youtube.api") -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        }


def quota_error() -> ApiError:
    return ApiError(
        403,
        "quotaExceeded",
        "The request cannot be completed because you have exceeded your quota.",
        domain="youtube.quota",
    )


class FakeYouTube:
    """Start with `with FakeYouTube() as fake:`; point the client at fake.root_url / fake.token_uri."""

    def __init__(self, refresh_token: str = "1//refresh") -> None:
        self.refresh_token = refresh_token  # the only grant the token endpoint honours
        self.faults = Faults()
        self.lock = threading.Lock()
        self.sessions: dict[str, Session] = {}
        self.videos: dict[str, Video] = {}
        self.thumbnails: dict[str, bytes] = {}
        self.playlists: dict[str, dict[str, Any]] = {}
        self.playlist_items: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.tokens_issued: set[str] = set()
        self.bytes_received = 0
        self.chunk_puts = 0
        self.status_queries = 0
        self.stalled = threading.Event()
        self.release = threading.Event()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def root_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def token_uri(self) -> str:
        return self.root_url + "token"

    def __enter__(self) -> FakeYouTube:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def calls(self, method: str, path: str) -> int:
        return sum(1 for call in self.requests if call == (method, path))

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    # --- the request handler ---------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def do_PUT(self) -> None:
                self._dispatch("PUT")

            def _dispatch(self, method: str) -> None:
                url = urlsplit(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                with fake.lock:
                    fake.requests.append((method, url.path))
                try:
                    if (method, url.path) == ("POST", "/token"):
                        return self._token()
                    self._authorise()
                    if url.path == UPLOAD_PATH and method == "POST":
                        return self._open_session(query)
                    if url.path == UPLOAD_PATH and method == "PUT":
                        return self._put(query)
                    if (method, url.path) == ("POST", "/upload/youtube/v3/thumbnails/set"):
                        return self._thumbnail(query)
                    if (method, url.path) == ("GET", "/youtube/v3/playlists"):
                        return self._list_playlists(query)
                    if (method, url.path) == ("POST", "/youtube/v3/playlists"):
                        return self._insert_playlist()
                    if (method, url.path) == ("POST", "/youtube/v3/playlistItems"):
                        return self._insert_playlist_item()
                    raise ApiError(404, "notFound", f"no fake for {method} {url.path}")
                except ApiError as exc:
                    self._json(exc.status, exc.body)

            # --- plumbing ---
            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(value).encode(), {"Content-Type": "application/json", **(headers or {})})

            def _authorise(self) -> None:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token not in fake.tokens_issued:
                    self._body()
                    raise ApiError(401, "authError", "Invalid Credentials")

            # --- OAuth ---
            def _token(self) -> None:
                form = {key: values[0] for key, values in parse_qs(self._body().decode()).items()}
                if fake.faults.invalid_grant or form.get("refresh_token") != fake.refresh_token:
                    return self._json(
                        400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
                    )
                token = f"ya29.fake-{fake._next_id('t')}"
                fake.tokens_issued.add(token)
                self._json(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

            # --- videos.insert, resumable ---
            def _open_session(self, query: dict[str, str]) -> None:
                metadata = json.loads(self._body() or b"{}")
                if query.get("uploadType") != "resumable":
                    raise ApiError(400, "badRequest", "only resumable uploads are faked")
                if fake.faults.quota_on_insert:
                    raise quota_error()
                if fake.faults.upload_limit_on_insert:
                    raise ApiError(
                        400, "uploadLimitExceeded", "The user has exceeded the number of videos they may upload."
                    )
                check_metadata(metadata)
                upload_id = fake._next_id("u")
                with fake.lock:
                    fake.sessions[upload_id] = Session(
                        metadata=metadata, total=int(self.headers["X-Upload-Content-Length"])
                    )
                location = f"{fake.root_url.rstrip('/')}{UPLOAD_PATH}?uploadType=resumable&upload_id={upload_id}"
                self._send(200, headers={"Location": location})

            def _put(self, query: dict[str, str]) -> None:
                session = fake.sessions.get(query.get("upload_id", ""))
                if session is None:
                    self._body()
                    raise ApiError(404, "notFound", "upload session not found")
                content_range = self.headers.get("Content-Range", "")
                status_query = re.fullmatch(r"bytes \*/(\d+)", content_range)
                if status_query:
                    self._body()
                    fake.status_queries += 1
                    return self._progress(session)
                match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range)
                if not match:
                    self._body()
                    raise ApiError(400, "badContentRange", f"bad Content-Range {content_range!r}")
                start, end, total = (int(group) for group in match.groups())
                with fake.lock:
                    fake.chunk_puts += 1
                    number = fake.chunk_puts
                if fake.faults.stall_on_chunk == number:
                    return self._stall()
                data = self._body()
                with fake.lock:
                    fake.bytes_received += len(data)
                if number in fake.faults.unavailable_chunks:
                    raise ApiError(503, "backendError", "Service unavailable")
                fraction = fake.faults.quota_from_fraction
                if fraction is not None and start >= total * fraction:
                    raise quota_error()
                if len(data) != end - start + 1 or total != session.total:
                    raise ApiError(400, "badContentRange", "Content-Range does not match the body or the session")
                if end + 1 != total and len(data) % CHUNK_MULTIPLE:
                    raise ApiError(400, "badChunk", "chunks must be multiples of 256 KiB")
                held = len(session.data)
                if start > held:
                    raise ApiError(400, "badContentRange", f"gap: the session holds {held} bytes, got {start}")
                session.data.extend(data[held - start :])
                self._progress(session)

            def _stall(self) -> None:
                """Take half the chunk, then hang as a dying instance's connection would."""
                length = int(self.headers.get("Content-Length") or 0)
                partial = self.rfile.read(length // 2)
                with fake.lock:
                    fake.bytes_received += len(partial)
                fake.stalled.set()
                fake.release.wait(60)
                self.close_connection = True

            def _progress(self, session: Session) -> None:
                if len(session.data) < session.total:
                    headers = {"Range": f"bytes=0-{len(session.data) - 1}"} if session.data else {}
                    return self._send(308, headers=headers)
                with fake.lock:
                    if session.video_id is None:
                        session.video_id = fake._next_id("vid")
                        resource = {"kind": "youtube#video", "id": session.video_id, **session.metadata}
                        fake.videos[session.video_id] = Video(session.video_id, resource, bytes(session.data))
                self._json(200, fake.videos[session.video_id].resource)

            # --- thumbnails.set ---
            def _thumbnail(self, query: dict[str, str]) -> None:
                data = self._body()
                if fake.faults.thumbnail_quota:
                    raise quota_error()
                if fake.faults.thumbnail_forbidden:
                    raise ApiError(403, "forbidden", "The channel may not upload custom thumbnails.")
                video_id = query.get("videoId", "")
                if video_id not in fake.videos:
                    raise ApiError(404, "videoNotFound", f"no video {video_id}")
                fake.thumbnails[video_id] = data
                self._json(200, {"kind": "youtube#thumbnailSetResponse", "items": [{"default": {"url": "x"}}]})

            # --- playlists ---
            def _list_playlists(self, query: dict[str, str]) -> None:
                if query.get("mine") != "true":
                    raise ApiError(400, "missingRequiredParameter", "only mine=true is faked")
                items = list(fake.playlists.values())
                size = int(query.get("maxResults", "5"))
                start = int(query.get("pageToken") or 0)
                page: dict[str, Any] = {"kind": "youtube#playlistListResponse", "items": items[start : start + size]}
                if start + size < len(items):
                    page["nextPageToken"] = str(start + size)
                self._json(200, page)

            def _insert_playlist(self) -> None:
                body = json.loads(self._body())
                title = body.get("snippet", {}).get("title", "")
                if not title or len(title) > 150 or "<" in title or ">" in title:
                    raise ApiError(400, "invalidPlaylistSnippet", f"bad playlist title {title!r}")
                playlist = {"kind": "youtube#playlist", "id": fake._next_id("PL"), **body}
                fake.playlists[playlist["id"]] = playlist
                self._json(200, playlist)

            def _insert_playlist_item(self) -> None:
                snippet = json.loads(self._body()).get("snippet", {})
                if snippet.get("playlistId") not in fake.playlists:
                    raise ApiError(404, "playlistNotFound", "no such playlist")
                if snippet.get("resourceId", {}).get("videoId") not in fake.videos:
                    raise ApiError(404, "videoNotFound", "no such video")
                item = {"kind": "youtube#playlistItem", "id": fake._next_id("PLI"), "snippet": snippet}
                fake.playlist_items.append(item)
                self._json(200, item)

        return Handler


def check_metadata(metadata: dict[str, Any]) -> None:
    """YouTube's own checks on videos.insert: the limits StartUploader must respect."""
    snippet = metadata.get("snippet", {})
    title, description, tags = snippet.get("title", ""), snippet.get("description", ""), snippet.get("tags", [])
    if not title or len(title) > 100 or re.search("[<>]", title):
        raise ApiError(400, "invalidTitle", f"invalid title {title!r}")
    if len(description.encode("utf-8")) > 5000 or re.search("[<>]", description):
        raise ApiError(400, "invalidDescription", "invalid description")
    counted = sum(len(tag) + (2 if " " in tag else 0) for tag in tags) + max(len(tags) - 1, 0)
    if counted > 500 or any(re.search("[<>]", tag) for tag in tags):
        raise ApiError(400, "invalidTags", f"tags count {counted} characters")
    if "selfDeclaredMadeForKids" not in metadata.get("status", {}):
        raise ApiError(400, "invalidVideoMetadata", "made-for-kids must be declared")
