"""One-time YouTube authorisation: the refresh token goes to SSM as a SecureString.

    python scripts/authorize_youtube.py --client-secrets client_secret.json --parameter /manga2video/youtube-token

Opens Google's consent page (an installed-app OAuth client from the Google Cloud console),
catches the answer on a loopback port, and writes the authorised-user JSON, refresh token
included, to SSM Parameter Store, overwriting the previous one. The token never passes
through Terraform (its state would keep it in clear text) or the environment. Run it again
whenever the uploader fails with YouTubeAuthError (a revoked or expired grant; grants of an
OAuth app still in "Testing" expire after 7 days).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import boto3
from google_auth_oauthlib.flow import InstalledAppFlow

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from manga2video.config import get_settings
from manga2video.youtube.client import SCOPES, load_credentials


def arguments() -> argparse.Namespace:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--client-secrets",
        default=settings.youtube_client_secrets_file,
        required=not settings.youtube_client_secrets_file,
        help="the OAuth client's JSON (type 'Desktop app'); default M2V_YOUTUBE_CLIENT_SECRETS_FILE",
    )
    parser.add_argument(
        "--parameter",
        default=settings.youtube_token_ssm_parameter,
        required=not settings.youtube_token_ssm_parameter,
        help="the SSM parameter; default M2V_YOUTUBE_TOKEN_SSM_PARAMETER (Terraform creates /<prefix>/youtube-token)",
    )
    parser.add_argument("--region", default=settings.region)
    parser.add_argument("--kms-key-id", default="", help="the KMS key; default the key the parameter already uses")
    parser.add_argument("--port", type=int, default=8080, help="the loopback port for the OAuth answer (0: any)")
    parser.add_argument("--no-browser", action="store_true", help="print the URL instead (forward the port over SSH)")
    return parser.parse_args()


def authorise(client_secrets: str, *, port: int, open_browser: bool) -> str:
    """The authorised-user JSON; `prompt=consent` makes Google issue a refresh token every time."""
    flow = InstalledAppFlow.from_client_secrets_file(client_secrets, scopes=list(SCOPES))
    credentials = flow.run_local_server(port=port, open_browser=open_browser, access_type="offline", prompt="consent")
    if not credentials.refresh_token:
        raise SystemExit("Google returned no refresh token; revoke the app's access at myaccount.google.com and retry")
    return credentials.to_json()


def current_key_id(ssm: Any, parameter: str) -> str:
    """The KMS key the parameter is encrypted with now (Terraform's key), '' if it does not exist yet."""
    found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [parameter]}])["Parameters"]
    return str(found[0].get("KeyId", "")) if found else ""


def store(ssm: Any, parameter: str, token_json: str, kms_key_id: str = "") -> int:
    """Overwrite the parameter as a SecureString, under the same KMS key unless told otherwise.

    Without KeyId an overwrite would fall back to the account's aws/ssm key, which the
    stack's workers may not be allowed to use. Returns the new version.
    """
    request = {"Name": parameter, "Value": token_json, "Type": "SecureString", "Overwrite": True}
    key_id = kms_key_id or current_key_id(ssm, parameter)
    if key_id:
        request["KeyId"] = key_id
    return int(ssm.put_parameter(**request)["Version"])


def main() -> int:
    args = arguments()
    token_json = authorise(args.client_secrets, port=args.port, open_browser=not args.no_browser)
    ssm = boto3.client("ssm", region_name=args.region)
    version = store(ssm, args.parameter, token_json, args.kms_key_id)
    # Read it back the way the uploader does, refreshing once, so a bad store shows now.
    load_credentials(ssm, dataclasses.replace(get_settings(), youtube_token_ssm_parameter=args.parameter))
    scopes = json.loads(token_json).get("scopes", [])
    print(f"Stored the YouTube refresh token in {args.parameter} (version {version}, scopes {', '.join(scopes)}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
