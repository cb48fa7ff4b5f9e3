"""Every error the state machine can name, in one place.

A Lambda that raises one of these fails with its class name as the error type, and a
worker reports it with SendTaskFailure(error=<class name>), so the ASL's Retry and Catch
match on exactly these names. tests/statemachine/test_asl_checks.py holds this module and
the ASL's ErrorEquals lists equal.
"""

from __future__ import annotations

# Names defined by AWS, not by us; the ASL may use them freely.
AWS_ERROR_NAMES = frozenset(
    {
        "States.ALL",
        "States.TaskFailed",
        "States.Timeout",
        "States.HeartbeatTimeout",
        "States.Runtime",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }
)


class PipelineError(Exception):
    """Base of every named failure; its subclass name is what Step Functions sees."""


# --- source --------------------------------------------------------------------------
class SourceUnavailableError(PipelineError):
    """Every configured domain of the source failed (network, 5xx, 429) after retries."""


class CloudflareChallengeError(PipelineError):
    """The source answered with a bot challenge instead of the page; retrying soon won't help."""


class ChapterNotFoundError(PipelineError):
    """The chapter or comic page is gone (404) or its markup has none of what we parse."""


class NoImagesError(PipelineError):
    """A chapter page and its ajax image list gave no page images."""


class InvalidImageError(PipelineError):
    """A downloaded page is not a usable image (wrong type, truncated, too big, a bomb)."""


# --- script and voice -------------------------------------------------------------------
class ScriptGenerationError(PipelineError):
    """The model gave no usable script, even after the SDK's retries and one repair round."""


class VoiceUnavailableError(PipelineError):
    """No voice engine could produce the narration."""


# --- workers ----------------------------------------------------------------------------
class WorkerLaunchError(PipelineError):
    """The worker instance or process could not be started (no Spot capacity, bad template)."""


class RenderError(PipelineError):
    """The video could not be rendered from these inputs (corrupt page, failed check)."""


class SpotInterrupted(PipelineError):
    """The Spot instance got its two-minute notice; the work goes on on a new instance."""


class YouTubeQuotaError(PipelineError):
    """YouTube's daily quota or upload limit is used up; the upload waits for tomorrow."""


class YouTubeAuthError(PipelineError):
    """The OAuth refresh token was refused; an operator must authorise again."""


class UploadError(PipelineError):
    """The upload failed for a reason other than quota or authorisation."""


# --- bookkeeping --------------------------------------------------------------------------
class JobStateError(PipelineError):
    """A job record is missing or not in the status this step needs."""


def custom_error_names() -> frozenset[str]:
    """The names of every error class defined here, as the ASL spells them."""

    def walk(cls: type[PipelineError]) -> set[str]:
        names = set()
        for sub in cls.__subclasses__():
            names.add(sub.__name__)
            names |= walk(sub)
        return names

    return frozenset(walk(PipelineError))
