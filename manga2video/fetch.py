"""FetchManga: a deferred upload first; else the next unprocessed chapter, claimed, its pages in S3.

Which chapter: with a follow list, each followed comic's oldest unprocessed chapter, comics
in the list's order; without one, the newest chapter of each comic on the latest-updated
listing. The claim is a conditional write on the chapter's identity, so two executions
never take the same chapter, and a chapter that failed max_chapter_failures times is left
alone. The job becomes "fetched" only once every page is in S3.

A failure after the claim marks the job failed here, before the error propagates: the
ASL's Catch puts the error at $.error without $.job, so HandleError cannot know which job
FetchManga had claimed, and the chapter would otherwise sit claimed until its lease lapsed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from manga2video.config import Settings
from manga2video.errors import ChapterNotFoundError
from manga2video.jobs import FAILED, UPLOAD_DEFERRED, Chapter
from manga2video.observability import MetricUnit, bind, logger, metrics
from manga2video.services import Services
from manga2video.sources.nettruyen import ChapterLink, NetTruyenClient
from manga2video.storage import JobKeys, Storage

STATE = "FetchManga"
# a chapter in one of these statuses has its video (or will upload it): never fetch it again
FINISHED = frozenset({"uploaded", "cleaned", UPLOAD_DEFERRED})
T = TypeVar("T")
R = TypeVar("R")


def fetch_manga(event: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """The FetchManga state: {"status": "resume_upload" | "success" | "no_manga_available", ...}."""
    owner = str(event.get("execution_name") or "manual")
    resumed = _resume_deferred_upload(services, owner)
    if resumed is not None:
        return resumed
    client = NetTruyenClient(services.settings)
    for chapter in _candidates(client, services.settings):
        job = _claim(services, chapter, owner)
        if job is not None:
            return _fetch_claimed(client, services, job)
    logger.info("no unprocessed chapter at the source")
    return {"status": "no_manga_available"}


def _resume_deferred_upload(services: Services, owner: str) -> dict[str, Any] | None:
    """Yesterday's video that YouTube refused goes out before anything new is fetched."""
    for waiting in services.jobs.deferred_uploads():
        job = services.jobs.claim_deferred_upload(waiting["job_id"], owner=owner)
        if job is not None:
            logger.info("resuming a deferred upload", extra={"job_id": job["job_id"]})
            return {
                "status": "resume_upload",
                "job_id": job["job_id"],
                "comic_title": job.get("comic_title", ""),
                "chapter_title": job.get("chapter_title", ""),
            }
    return None


def _as_chapter(link: ChapterLink, comic_title: str, comic_url: str) -> Chapter:
    return Chapter(
        chapter_key=link.chapter_key,
        comic_key=link.comic_key,
        comic_title=comic_title,
        chapter_title=link.title,
        chapter_url=link.url,
        comic_url=comic_url,
        chapter_number=link.number,
    )


def _candidates(client: NetTruyenClient, settings: Settings) -> Iterator[Chapter]:
    """Chapters in the order we would like to publish them; the caller takes the first it can claim."""
    if settings.follow_list:
        for entry in settings.follow_list:
            try:
                comic = client.comic(client.url_for(entry))
            except ChapterNotFoundError as exc:
                logger.warning(
                    "followed comic not found; check M2V_FOLLOW_LIST", extra={"entry": entry, "error": str(exc)}
                )
                continue
            for link in reversed(comic.chapters):
                yield _as_chapter(link, comic.title, comic.url)
        return
    for summary in client.listing():
        links = summary.chapters
        if not links:
            try:
                links = client.comic(summary.url).chapters
            except ChapterNotFoundError as exc:
                logger.warning("listed comic has no readable page", extra={"url": summary.url, "error": str(exc)})
                continue
        if links:
            yield _as_chapter(links[0], summary.title, summary.url)


def _claim(services: Services, chapter: Chapter, owner: str) -> dict[str, Any] | None:
    settings = services.settings
    state = services.jobs.chapter_state(chapter.chapter_key)
    if state is not None:
        if state["status"] in FINISHED:
            return None
        if state["status"] == FAILED and int(state.get("failures") or 0) >= settings.max_chapter_failures:
            logger.warning(
                "skipping a chapter that failed too often",
                extra={"job_id": state["job_id"], "failures": state.get("failures"), "error": state.get("error")},
            )
            return None
    job = services.jobs.claim_chapter(
        chapter, owner=owner, lease_seconds=settings.claim_lease_seconds, max_failures=settings.max_chapter_failures
    )
    if job is None:
        logger.info("chapter is taken by another run", extra={"chapter_key": chapter.chapter_key})
    return job


def _fetch_claimed(client: NetTruyenClient, services: Services, job: Mapping[str, Any]) -> dict[str, Any]:
    job_id = job["job_id"]
    bind(state=STATE, job_id=job_id)
    logger.info("chapter claimed", extra={"chapter_url": job["chapter_url"], "comic_title": job.get("comic_title")})
    try:
        pages = _pages_already_stored(services.storage, job)
        if pages is None:
            pages = _download_pages(client, services, job_id, job["chapter_url"])
        else:
            logger.info("reusing the pages already in S3", extra={"page_count": len(pages)})
        services.jobs.transition(job_id, "fetched", page_count=len(pages), pages=pages)
    except Exception as exc:
        try:
            services.jobs.mark_failed(job_id, error=type(exc).__name__, error_message=str(exc), failed_at=STATE)
        except Exception:  # the fetch's own error matters more than the bookkeeping's
            logger.exception("could not mark the job failed")
        raise
    except BaseException:
        services.jobs.release(job_id, reason="interrupted during FetchManga")
        raise
    metrics.add_metric(name="PagesFetched", unit=MetricUnit.Count, value=len(pages))
    return {
        "status": "success",
        "job_id": job_id,
        "comic_title": job.get("comic_title", ""),
        "chapter_title": job.get("chapter_title", ""),
        "page_count": len(pages),
    }


def _pages_already_stored(storage: Storage, job: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """A re-claimed job (it failed after FetchManga) whose recorded pages are all still in S3."""
    pages = job.get("pages") or []
    if not pages or len(pages) != job.get("page_count"):
        return None
    stored = {key for key, _ in storage.list_keys(JobKeys(job["job_id"]).pages_prefix)}
    return [dict(page) for page in pages] if all(page["key"] in stored for page in pages) else None


def _download_pages(client: NetTruyenClient, services: Services, job_id: str, chapter_url: str) -> list[dict]:
    chapter = client.chapter(chapter_url)
    keys = JobKeys(job_id)
    services.storage.delete_prefix(keys.pages_prefix)  # leftovers of a failed attempt

    def store(index: int) -> dict[str, Any]:
        jpeg = client.fetch_jpeg(chapter.images[index - 1], referer=chapter.url)
        services.storage.put_bytes(keys.page(index), jpeg.data, "image/jpeg")
        return {"index": index, "key": keys.page(index), "width": jpeg.width, "height": jpeg.height}

    pages = bounded_map(store, range(1, len(chapter.images) + 1), services.settings.download_concurrency)
    logger.info("pages stored", extra={"page_count": len(pages), "chapter_url": chapter.url})
    return pages


def bounded_map(work: Callable[[T], R], items: Sequence[T] | range, concurrency: int) -> list[R]:
    """work(item) for every item, at most `concurrency` at a time, results in order.

    The first failure is raised and the items not yet started are dropped.
    """
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="fetch") as pool:
        futures = [pool.submit(work, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
