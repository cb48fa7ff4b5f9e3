"""HandleError: Mark the job failed, alert, and let the loop go on."""

from manga2video.steps import handle_error

from manga2video.lambda_runtime import state_handler

handler = state_handler("HandleError")(handle_error)
