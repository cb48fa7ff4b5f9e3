"""StartUploader: YouTube metadata and thumbnail for the job."""

from manga2video.lambda_runtime import state_handler
from manga2video.youtube import start_uploader

handler = state_handler("StartUploader")(start_uploader)
