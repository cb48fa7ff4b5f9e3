"""HandleError: Mark the job failed, alert, and let the loop go on."""

from manga2video.lambda_runtime import state_handler
from manga2video.steps import handle_error

handler = state_handler("HandleError")(handle_error)
