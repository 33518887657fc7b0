"""`.local/stack.env` appears only complete: `make stack-up` writes it once, after the demo account and user exist, in
one rename; a failed bootstrap leaves only the deploy's values, in a file of their own."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from scripts import local_stack, redrive, stack_env

DEMO = {"DEMO_ACCOUNT_ID": "acc_demo", "DEMO_API_KEY": "wn_live_demo", "DEMO_USER_EMAIL": "demo@example.com"}


def test_the_file_is_replaced_whole_and_only_its_owner_can_read_it(tmp_path: Path) -> None:
    path = tmp_path / "stack.env"
    stack_env.write({"API_URL": "http://127.0.0.1:1/old", "ADMIN_API_KEY": "one"}, path)
    stack_env.write({"API_URL": "http://127.0.0.1:1/new"}, path)

    assert stack_env.read(path) == {"API_URL": "http://127.0.0.1:1/new"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["stack.env"]  # no temporary file left beside it


class FakeStack:
    """bring_up's steps without MiniStack: records what stack.env held when the bootstrap ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, state: Path, bootstrap_fails: bool = False) -> None:
        self.env_during_bootstrap: dict[str, str] | None = None
        self.bootstrap_fails = bootstrap_fails
        monkeypatch.setenv("LOCAL_STACK_DIR", str(state))
        steps: dict[str, Any] = {
            "recorded_pid": lambda: None,
            "start_ministack": lambda: 4242,
            "stop_ministack": lambda pid: None,
            "put_admin_key": lambda key: None,
            "sam_deploy": lambda parameters=None: 1.0,
            "sync_gateway_responses": lambda: None,
            "stack_outputs": lambda: {"DataTableName": "data"},
            "aws_client": lambda service: None,
            "publish_dashboard": lambda outputs, url: {"DASHBOARD_URL": "http://dash.localhost"},
            "local_api_url": lambda outputs: "http://127.0.0.1:4566/api",
            "bootstrap": self.bootstrap,
            "print_summary": lambda values, serve: None,
        }
        for name, step in steps.items():
            monkeypatch.setattr(local_stack, name, step)
        monkeypatch.setattr(redrive, "stack_queue_urls", lambda cloudformation, name: {})
        monkeypatch.setattr(redrive, "stack_env_values", lambda urls: {})

    def bootstrap(self, api: Any) -> dict[str, str]:
        self.env_during_bootstrap = stack_env.read(local_stack.env_file())
        if self.bootstrap_fails:
            raise local_stack.StackError("GET /health never answered 200")
        return DEMO


def test_stack_env_is_written_once_the_demo_account_exists(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stale = tmp_path / "stack.env"
    stale.write_text("API_URL=http://127.0.0.1:4566/an-earlier-stack\n")
    fake = FakeStack(monkeypatch, tmp_path)

    local_stack.bring_up(serve=False)

    assert fake.env_during_bootstrap == {}  # neither the earlier stack's file nor a partial one
    written = stack_env.read(local_stack.env_file())
    assert written["API_URL"] == "http://127.0.0.1:4566/api"
    assert {name: written[name] for name in DEMO} == DEMO
    assert written["ADMIN_API_KEY"]


def test_a_failed_bootstrap_leaves_no_stack_env_but_the_deploys_values_apart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    FakeStack(monkeypatch, tmp_path, bootstrap_fails=True)

    local_stack.bring_up(serve=True)  # `make run` keeps MiniStack serving to look into it

    assert not local_stack.env_file().exists()
    deployed = stack_env.read(local_stack.deployed_env_file())
    assert deployed["API_URL"] == "http://127.0.0.1:4566/api"
    assert "DEMO_API_KEY" not in deployed
    assert os.path.dirname(local_stack.deployed_env_file()) == str(tmp_path)
