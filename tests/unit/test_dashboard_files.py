"""scripts/dashboard.py: what goes into the dashboard bucket, with which headers, and config.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripts import dashboard


class RecordingS3:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}

    def put_object(self, **kwargs: Any) -> None:
        self.objects[kwargs["Key"]] = kwargs


def test_the_build_goes_up_with_browser_types_and_config_json_last(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "assets" / "index-abc123.js").write_text("export {}")
    (tmp_path / "config.json").write_text('{"apiUrl": "left over from a dev build"}')
    s3 = RecordingS3()

    keys = dashboard.upload(s3, "bucket", tmp_path, {"apiUrl": "https://api.example/v1"})

    assert keys == ["assets/index-abc123.js", "index.html", "config.json"]
    assert s3.objects["index.html"]["ContentType"] == "text/html; charset=utf-8"
    assert s3.objects["index.html"]["CacheControl"] == "no-cache"
    assert s3.objects["assets/index-abc123.js"]["ContentType"] == "text/javascript; charset=utf-8"
    assert s3.objects["assets/index-abc123.js"]["CacheControl"] == dashboard.IMMUTABLE
    assert json.loads(s3.objects["config.json"]["Body"]) == {"apiUrl": "https://api.example/v1"}


def test_config_names_cognito_only_when_the_stack_has_a_user_pool() -> None:
    endpoint = dashboard.cognito_endpoint("ap-northeast-2")
    without = dashboard.app_config({}, "https://api.example/v1/", endpoint, "ap-northeast-2")
    with_pool = dashboard.app_config(
        {"UserPoolId": "ap-northeast-2_abc", "UserPoolClientId": "client1"},
        "https://api.example/v1",
        endpoint,
        "ap-northeast-2",
    )

    assert without == {"apiUrl": "https://api.example/v1"}
    assert with_pool["cognito"] == {
        "endpoint": "https://cognito-idp.ap-northeast-2.amazonaws.com/",
        "region": "ap-northeast-2",
        "userPoolId": "ap-northeast-2_abc",
        "clientId": "client1",
    }
