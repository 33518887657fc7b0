"""Publishing the dashboard's build: its files into the stack's DashboardBucket, with config.json beside index.html.

    python -m scripts.dashboard deploy --stack-name NAME [--region REGION] [--dist dashboard/dist]

`deploy` is for a stack on AWS (`make deploy-dashboard STACK_NAME=...` builds the app first): it reads the stack's
outputs, uploads dashboard/dist and config.json and invalidates the CloudFront distribution. The local stack
(scripts/local_stack.py) calls `publish` itself after each deploy to MiniStack.

config.json is what the app reads at runtime: `{"apiUrl", "cognito": {"endpoint", "region", "userPoolId",
"clientId"}}`; "cognito" is left out while the stack has no UserPoolId / UserPoolClientId outputs.

Cache-Control per file: index.html and config.json are revalidated on every load (a deploy shows at once), files
under assets/ carry a content hash in their names (Vite) and are cached for a year. Files of earlier builds are
not deleted: a page opened before a deploy still finds the chunks it loads later (the bucket keeps old versions
for 30 days anyway).
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dashboard" / "dist"
CONFIG_KEY = "config.json"

# Browsers need these exact types (a module script served as text/plain is refused); mimetypes varies by machine.
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
}
REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def cache_control(key: str) -> str:
    return IMMUTABLE if key.startswith("assets/") else REVALIDATE


def app_config(outputs: Mapping[str, str], api_url: str, cognito_endpoint: str, region: str) -> dict[str, Any]:
    """config.json for a stack with these outputs; the API and Cognito at the addresses the browser uses."""
    config: dict[str, Any] = {"apiUrl": api_url.rstrip("/")}
    pool_id, client_id = outputs.get("UserPoolId"), outputs.get("UserPoolClientId")
    if pool_id and client_id:
        config["cognito"] = {
            "endpoint": cognito_endpoint,
            "region": region,
            "userPoolId": pool_id,
            "clientId": client_id,
        }
    return config


def upload(s3: Any, bucket: str, dist: Path | None, config: Mapping[str, Any] | None) -> list[str]:
    """Put every file of ``dist`` (when given) and then ``config`` as config.json (when given) into ``bucket``;
    returns the keys written."""
    keys: list[str] = []
    if dist is not None:
        for path in sorted(p for p in dist.rglob("*") if p.is_file()):
            key = path.relative_to(dist).as_posix()
            if key == CONFIG_KEY:
                continue  # the stack's own config.json below wins over one left in the build
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=path.read_bytes(),
                ContentType=content_type(key),
                CacheControl=cache_control(key),
            )
            keys.append(key)
    if config is None:
        return keys
    s3.put_object(
        Bucket=bucket,
        Key=CONFIG_KEY,
        Body=json.dumps(config, indent=2).encode(),
        ContentType=content_type(CONFIG_KEY),
        CacheControl=REVALIDATE,
    )
    keys.append(CONFIG_KEY)
    return keys


def publish(s3: Any, outputs: Mapping[str, str], config: Mapping[str, Any], dist: Path = DIST) -> list[str]:
    """Upload ``dist`` (if it holds a build) and config.json to the stack's DashboardBucket output."""
    bucket = outputs.get("DashboardBucket")
    if not bucket:
        raise RuntimeError("the stack has no DashboardBucket output (deployed from an older template?)")
    return upload(s3, bucket, dist if (dist / "index.html").is_file() else None, config)


def invalidate(cloudfront: Any, distribution_id: str) -> str:
    """Invalidate every path of the distribution; returns the invalidation id."""
    reply = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"deploy-{time.time_ns()}"},
    )
    return str(reply["Invalidation"]["Id"])


def cognito_endpoint(region: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/"


def deploy(stack_name: str, region: str, dist: Path) -> int:
    import boto3

    if not (dist / "index.html").is_file():
        print(f"{dist} has no index.html: build the dashboard first (make dashboard)", file=sys.stderr)
        return 1
    session = boto3.session.Session(region_name=region)
    stack = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {out["OutputKey"]: out["OutputValue"] for out in stack.get("Outputs", [])}
    config = app_config(outputs, outputs["ApiUrl"], cognito_endpoint(region), region)
    keys = publish(session.client("s3"), outputs, config, dist)
    invalidation = invalidate(session.client("cloudfront"), outputs["DashboardDistributionId"])
    print(f"uploaded {len(keys)} files to s3://{outputs['DashboardBucket']} (invalidation {invalidation})")
    if "cognito" not in config:
        print("note: the stack has no UserPoolId/UserPoolClientId outputs; config.json has no sign-in settings")
    print(f"DASHBOARD_URL={outputs['DashboardUrl']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    deploy_parser = sub.add_parser("deploy", help="upload the build to a stack on AWS and invalidate CloudFront")
    deploy_parser.add_argument("--stack-name", required=True)
    deploy_parser.add_argument("--region", default=os.environ.get("AWS_REGION", "ap-northeast-2"))
    deploy_parser.add_argument("--dist", type=Path, default=DIST)
    args = parser.parse_args(argv)
    return deploy(args.stack_name, args.region, args.dist)


if __name__ == "__main__":
    sys.exit(main())
