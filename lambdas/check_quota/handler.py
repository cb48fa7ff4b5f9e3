"""CheckQuota: Today's count (Pacific date) against the daily quota."""

from manga2video.lambda_runtime import state_handler
from manga2video.steps import check_quota

handler = state_handler("CheckQuota")(check_quota)
