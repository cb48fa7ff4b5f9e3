"""The YouTube Data API client: OAuth credentials from SSM, the bundled discovery document.

The refresh token lives in SSM Parameter Store as a SecureString (written once by
scripts/authorize_youtube.py), never in Terraform state or the environment. The discovery
document is the one bundled with google-api-python-client, so building the client needs
no network; its rootUrl can point elsewhere (the loopback fake in tests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import google_auth_httplib2
from botocore.exceptions import ClientError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError
from googleapiclient.http import build_http

from manga2video.config import Settings
from manga2video.errors import UploadError, YouTubeAuthError

SCOPES = ("https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube")
QUOTA_REASONS = frozenset({"quotaExceeded", "uploadLimitExceeded", "dailyLimitExceeded"})
REAUTHORISE = (
    "The YouTube authorisation stored in SSM is not usable ({detail}). Authorise again with "
    "`python scripts/authorize_youtube.py --client-secrets <client_secret.json> --parameter {parameter}`; "
    "the deferred work resumes on the next run."
)


def discovery_document(root_url: str = "") -> dict[str, Any]:
    """The bundled youtube.v3 document, with rootUrl replaced when one is configured."""
    text = resources.files("googleapiclient").joinpath("discovery_cache/documents/youtube.v3.json").read_text("utf-8")
    document = json.loads(text)
    if root_url:
        document["rootUrl"] = root_url.rstrip("/") + "/"
    return document


def load_credentials(ssm: Any, settings: Settings) -> Credentials:
    """Credentials from the authorised-user JSON in SSM, refreshed now so a revoked grant shows at once."""
    parameter = settings.youtube_token_ssm_parameter
    try:
        raw = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterNotFound":
            raise YouTubeAuthError(REAUTHORISE.format(detail="no such SSM parameter", parameter=parameter)) from exc
        # the token may be fine: the worker's role or the parameter's KMS key is what to fix
        raise UploadError(f"cannot read the YouTube token from SSM parameter {parameter}: {exc}") from exc
    try:
        info = json.loads(raw)
        # from_authorized_user_info always sets Google's token endpoint, whatever the JSON says.
        credentials = Credentials.from_authorized_user_info(info, scopes=list(SCOPES)).with_token_uri(
            settings.youtube_token_uri
        )
    except ValueError as exc:
        detail = f"the parameter holds no authorised-user JSON, still the placeholder? {exc}"
        raise YouTubeAuthError(REAUTHORISE.format(detail=detail, parameter=parameter)) from exc
    refresh(credentials, parameter)
    return credentials


def refresh(credentials: Credentials, parameter: str) -> None:
    """A refused grant needs an operator (YouTubeAuthError); an unreachable endpoint is worth a retry (UploadError)."""
    try:
        credentials.refresh(google.auth.transport.requests.Request())
    except google.auth.exceptions.RefreshError as exc:
        raise YouTubeAuthError(REAUTHORISE.format(detail=exc, parameter=parameter)) from exc
    except google.auth.exceptions.TransportError as exc:
        raise UploadError(f"the OAuth token endpoint is unreachable: {exc}") from exc


@dataclass(frozen=True)
class YouTubeApi:
    """The API resource and the authorised HTTP it talks through (for the resumable session calls)."""

    service: Any
    http: Any


def build_youtube(credentials: Credentials, settings: Settings) -> YouTubeApi:
    """The client from the bundled discovery document: no network needed, and tests point rootUrl at a fake."""
    # build_http, not a bare httplib2.Http: it stops httplib2 from treating the upload's 308 as a redirect.
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=build_http())
    service = build_from_document(discovery_document(settings.youtube_root_url), http=http)
    return YouTubeApi(service=service, http=http)


def error_reason(exc: HttpError) -> str:
    """The first `errors[].reason` of a Google API error body ('quotaExceeded', ...), or ''."""
    try:
        body = json.loads(exc.content.decode("utf-8") if isinstance(exc.content, bytes) else exc.content)
        error = body.get("error", {})
        errors = error.get("errors") or error.get("details") or []
        return str(errors[0].get("reason", "")) if errors else str(error.get("status", ""))
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""


def is_quota_error(exc: HttpError) -> bool:
    return exc.resp.status in (400, 403) and error_reason(exc) in QUOTA_REASONS
