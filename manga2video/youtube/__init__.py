"""YouTube: metadata within YouTube's limits (StartUploader) and the resumable uploader.

Only the metadata is imported here: the StartUploader Lambda needs no Google client. The
worker imports `manga2video.youtube.upload.upload_job`.
"""

from manga2video.youtube.metadata import build_metadata, start_uploader

__all__ = ["build_metadata", "start_uploader"]
