"""StartRenderer: The render manifest (one segment per scene) written to S3."""

from manga2video.lambda_runtime import state_handler
from manga2video.render import start_renderer

handler = state_handler("StartRenderer")(start_renderer)
