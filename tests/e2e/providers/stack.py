"""The stack on MiniStack with GiftProvider=giftishow and NotificationProvider=solapi, pointed at the wire-level fakes
(tests/fakes) running as processes on 127.0.0.1: what `make test-e2e-providers` runs tests/e2e/providers against.

    python -m tests.e2e.providers.stack up     start both fakes and MiniStack, put the providers' secrets in its
                                               Secrets Manager, deploy and bootstrap (scripts/local_stack.py with
                                               the provider parameters); write <state dir>/stack.env
    python -m tests.e2e.providers.stack down   stop MiniStack and the fakes, by their recorded pids

The state dir is LOCAL_STACK_DIR (default .local/providers, apart from `make stack-up`'s .local); MINISTACK_PORT as
for scripts/local_stack.py. The fakes take free ports; stack.env names them (GIFTISHOW_FAKE_URL, SOLAPI_FAKE_URL)
besides the usual values. The Lambdas run as local processes of MiniStack, so they reach the fakes on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from scripts import local_stack
from scripts.local_stack import StackError, log
from shared.adapters.giftishow import GiftishowCredentials
from shared.adapters.solapi import SolapiCredentials
from tests.fakes import giftishow_server, solapi_server

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_STATE_DIR = ".local/providers"
START_SECONDS = 15
STOP_SECONDS = 5
# Messages become final soon after the send, so the report poller finds them on its first look (30 s after it).
SOLAPI_DELIVERY_SECONDS = 3
GIFTISHOW_SECRET_NAME = "win-notifications/giftishow"
SOLAPI_SECRET_NAME = "win-notifications/solapi"
CALLBACK_NUMBER = "0212345678"
# The gift provider's configured rate and the consumers' concurrency: each of GIFT_SEND_MAX_CONCURRENCY + 1 instances
# holds 0.9 x GIFT_PROVIDER_RPS / 5 = 18 requests a second; the rate-limited test limits the fake to GIFT_PROVIDER_RPS.
GIFT_PROVIDER_RPS = os.environ.get("PROVIDERS_GIFT_RPS", "100")
GIFT_SEND_MAX_CONCURRENCY = os.environ.get("PROVIDERS_GIFT_CONCURRENCY", "4")


@dataclass(frozen=True)
class Fake:
    name: str
    module: str
    args: tuple[str, ...] = ()

    @property
    def pid_file(self) -> Path:
        return local_stack.state_dir() / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return local_stack.state_dir() / f"{self.name}.log"


GIFTISHOW = Fake("giftishow", "tests.fakes.giftishow_server")
SOLAPI = Fake("solapi", "tests.fakes.solapi_server", ("--delivery-seconds", str(SOLAPI_DELIVERY_SECONDS)))
FAKES = (GIFTISHOW, SOLAPI)


# -- the fakes' processes ---------------------------------------------------------------------------------------


def _is_fake(pid: int, fake: Fake) -> bool:
    """True while `pid` is this fake's process (so a reused pid is never taken for it)."""
    try:
        return fake.module.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def start_fake(fake: Fake) -> str:
    """Starts the fake on a free loopback port; returns the URL it prints once it listens."""
    with fake.log_file.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", fake.module, "--port", "0", *fake.args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only this script, which stops it
        )
    fake.pid_file.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        for line in fake.log_file.read_text(errors="replace").splitlines():
            if line.startswith("http://127.0.0.1:"):
                log(f"fake {fake.name} on {line} (pid {process.pid})")
                return line.strip()
        if process.poll() is not None:
            raise StackError(f"fake {fake.name} exited with {process.returncode}; see {fake.log_file}")
        time.sleep(0.1)
    raise StackError(f"fake {fake.name} printed no URL within {START_SECONDS} s; see {fake.log_file}")


def stop_fake(fake: Fake) -> None:
    try:
        pid = int(fake.pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    if _is_fake(pid, fake):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while _is_fake(pid, fake) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # our child when `up` failed
            time.sleep(0.1)
        if _is_fake(pid, fake):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log(f"fake {fake.name} (pid {pid}) stopped")
    fake.pid_file.unlink(missing_ok=True)


# -- secrets and parameters -------------------------------------------------------------------------------------


def put_secret(name: str, value: str) -> str:
    """Creates (or updates) a Secrets Manager secret on the local stack's MiniStack; returns its ARN."""
    client = local_stack.aws_client("secretsmanager")
    try:
        return str(client.create_secret(Name=name, SecretString=value)["ARN"])
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)
        return str(client.describe_secret(SecretId=name)["ARN"])


def provider_secrets() -> tuple[str, str]:
    """The fakes' default credentials as the adapters read them from their secrets (checked by their models)."""
    giftishow = json.dumps(
        {
            "custom_auth_code": giftishow_server.AUTH_CODE,
            "custom_auth_token": giftishow_server.AUTH_TOKEN,
            "user_id": giftishow_server.USER_ID,
        }
    )
    solapi = json.dumps({"api_key": solapi_server.API_KEY, "api_secret": solapi_server.API_SECRET})
    GiftishowCredentials.from_secret(giftishow)
    SolapiCredentials.model_validate_json(solapi)
    return giftishow, solapi


def provider_parameters(giftishow_url: str, solapi_url: str) -> dict[str, str]:
    giftishow_secret, solapi_secret = provider_secrets()
    return {
        "GiftProvider": "giftishow",
        "GiftProviderEndpoint": giftishow_url,
        "GiftProviderSecretArn": put_secret(GIFTISHOW_SECRET_NAME, giftishow_secret),
        "GiftProviderCallbackNumber": CALLBACK_NUMBER,
        "GiftProviderDevYn": "Y",
        "GiftProviderRequestsPerSecond": GIFT_PROVIDER_RPS,
        "GiftSendMaxConcurrency": GIFT_SEND_MAX_CONCURRENCY,
        "NotificationProvider": "solapi",
        "SolapiEndpoint": solapi_url,
        "SolapiSecretArn": put_secret(SOLAPI_SECRET_NAME, solapi_secret),
        "SmsSenderNumber": solapi_server.SENDER_NUMBER,
    }


# -- commands ---------------------------------------------------------------------------------------------------


def cmd_up() -> int:
    started = time.monotonic()
    cmd_down()  # whatever an earlier run left behind
    local_stack.state_dir().mkdir(parents=True, exist_ok=True)
    try:
        urls = {fake.name: start_fake(fake) for fake in FAKES}
        local_stack.start_ministack()  # first: the secrets' ARNs are parameters of the deploy
        parameters = provider_parameters(urls[GIFTISHOW.name], urls[SOLAPI.name])
        fakes_env = {
            "GIFTISHOW_FAKE_URL": urls[GIFTISHOW.name],
            "SOLAPI_FAKE_URL": urls[SOLAPI.name],
            "GIFT_PROVIDER_RPS": GIFT_PROVIDER_RPS,
        }
        local_stack.bring_up(serve=False, parameters=parameters, extra_env=fakes_env)
    except BaseException:
        cmd_down()
        raise
    log(f"provider stack up in {time.monotonic() - started:.1f} s")
    return 0


def cmd_down() -> int:
    pid = local_stack.recorded_pid()
    if pid is not None:
        local_stack.stop_ministack(pid)
    local_stack.pid_file().unlink(missing_ok=True)
    for fake in FAKES:
        stop_fake(fake)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down"])
    args = parser.parse_args(argv)
    os.environ.setdefault("LOCAL_STACK_DIR", DEFAULT_STATE_DIR)
    try:
        return {"up": cmd_up, "down": cmd_down}[args.command]()
    except StackError as err:
        log(f"ERROR: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
