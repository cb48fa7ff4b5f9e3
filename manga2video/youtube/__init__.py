"""YouTube: metadata within YouTube's limits (StartUploader) and the resumable uploader."""

from manga2video.youtube.metadata import build_metadata, start_uploader
from manga2video.youtube.upload import upload_job

__all__ = ["build_metadata", "start_uploader", "upload_job"]
