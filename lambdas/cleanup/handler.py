"""Cleanup: Delete the job's working files under jobs/{job_id}/."""

from manga2video.lambda_runtime import state_handler
from manga2video.steps import cleanup

handler = state_handler("Cleanup")(cleanup)
