"""FetchManga: A deferred upload first, else the next unprocessed chapter: claimed, pages in S3."""

from manga2video.fetch import fetch_manga
from manga2video.lambda_runtime import state_handler

handler = state_handler("FetchManga")(fetch_manga)
