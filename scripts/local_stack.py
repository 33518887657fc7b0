"""The whole stack on this machine: MiniStack (local AWS) on 127.0.0.1, template deployed to it.

    python -m scripts.local_stack run    start MiniStack, deploy, bootstrap, serve until Ctrl-C
    python -m scripts.local_stack up     the same, but return once ready; MiniStack keeps running
                                         (its pid is in .local/ministack.pid)
    python -m scripts.local_stack down   stop the MiniStack that `up` started

Run it through `make run` / `make stack-up` / `make stack-down`: make installs the venvs and
builds the LOCAL flavour (.aws-sam/build-local) first. It runs under .venv-ministack's Python
(boto3 + PyYAML); the MiniStack process is started and stopped by scripts/ministack_server.py. When
ready it writes .local/stack.env (scripts/stack_env.py: API_URL, ADMIN_API_KEY, DEMO_API_KEY,
DEMO_ACCOUNT_ID, DEMO_USER_EMAIL and DEMO_USER_PASSWORD (a dashboard user of the demo account, password
set), USER_POOL_ID, USER_POOL_CLIENT_ID and COGNITO_ENDPOINT (the dashboard's sign-in), the AWS_* settings that
reach MiniStack, the send queues and their dead-letter queues, DASHBOARD_URL, ...).

The dashboard: after each deploy its build (dashboard/dist, when there is one: `make dashboard`) and a
config.json naming the local API and Cognito go into the stack's DashboardBucket (scripts/dashboard.py), and
MiniStack's CloudFront serves them as on AWS (Origin Access Control, the response headers policy) at
http://<distribution>.cloudfront.localhost:<port>/ (browsers resolve *.localhost to 127.0.0.1). The template
parameter DashboardLocalOrigin lets that distribution answer plain HTTP, which is all MiniStack speaks.

Environment: MINISTACK_PORT (default 4566), STACK_NAME (default win-notifications),
LOG_LEVEL for the Lambdas (default INFO), MINISTACK_LOG_LEVEL (default INFO),
LOCAL_STACK_DIR (default .local: the pid, logs and stack.env; another directory keeps a second local
stack apart from the first), STACK_PARAMETERS (extra template parameters, `Name=value` separated by
spaces, e.g. "GiftProvider=giftishow GiftProviderEndpoint=http://127.0.0.1:8710/bizApi ...").

If `up` finds the MiniStack of an earlier `up` still running it redeploys into it (and keeps
the admin key) instead of starting another one.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts import dashboard, ministack_server, stack_env
from scripts.ministack_server import DUMMY_CREDENTIALS, REGION

ROOT = Path(__file__).resolve().parent.parent
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build-local" / "template.yaml"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
SAMCONFIG = ROOT / "samconfig.toml"

ADMIN_KEY_PARAMETER = "/win-notifications/admin-api-key"
DEMO_CREDITS = 100_000
DEMO_USER_EMAIL = "demo@win-notifications.example"


class StackError(RuntimeError):
    """A step failed; the message says which and where to look."""


def log(message: str) -> None:
    print(f"[local-stack] {message}", flush=True)


def port() -> int:
    return int(os.environ.get("MINISTACK_PORT", "4566"))


def state_dir() -> Path:
    """Where this stack's MiniStack runs (its cwd) and keeps its pid, logs and stack.env."""
    return ROOT / os.environ.get("LOCAL_STACK_DIR", ".local")


def pid_file() -> Path:
    return state_dir() / "ministack.pid"


def log_file() -> Path:
    return state_dir() / "ministack.log"


def deploy_log() -> Path:
    return state_dir() / "deploy.log"


def env_file() -> Path:
    return state_dir() / stack_env.STACK_ENV.name


def deployed_env_file() -> Path:
    """The deploy's values before the demo account exists: what is left to look at when the bootstrap fails (and
    where a redeploy into the same MiniStack finds its admin key then); stack.env appears only once complete."""
    return state_dir() / "deployed.env"


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def stack_parameters() -> dict[str, str]:
    """STACK_PARAMETERS as a dict (`Name=value` words)."""
    parameters: dict[str, str] = {}
    for word in os.environ.get("STACK_PARAMETERS", "").split():
        name, equals, value = word.partition("=")
        if not name or not equals:
            raise StackError(f"STACK_PARAMETERS: {word!r} is not Name=value")
        parameters[name] = value
    return parameters


def endpoint() -> str:
    return ministack_server.endpoint(port())


def stack_name() -> str:
    return os.environ.get("STACK_NAME", "win-notifications")


def aws_env() -> dict[str, str]:
    return ministack_server.client_env(port())


def aws_client(service: str) -> Any:
    import boto3  # imported late: `down` runs without .venv-ministack

    return boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    ).client(service, endpoint_url=endpoint())  # type: ignore[call-overload]


# ---------------------------------------------------------------------------------------------
# MiniStack process
# ---------------------------------------------------------------------------------------------


def _is_ministack(pid: int) -> bool:
    """True while `pid` is a MiniStack this script started for this checkout (cwd: the state dir)."""
    return ministack_server.is_running(pid, state_dir())


def recorded_pid() -> int | None:
    """The pid in the state dir's ministack.pid if that process is alive and is MiniStack."""
    try:
        pid = int(pid_file().read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_ministack(pid) else None


def start_ministack() -> int:
    log(f"MiniStack starting on {endpoint()} (log {_shown(log_file())})")
    try:
        pid = ministack_server.start(
            port(), state_dir(), log_file(), os.environ.get("MINISTACK_LOG_LEVEL", "INFO"), pid_file=pid_file()
        )
    except ministack_server.MiniStackError as err:
        raise StackError(f"{err} (another port: MINISTACK_PORT=4577 make run)") from err
    log(f"MiniStack ready (pid {pid})")
    return pid


def stop_ministack(pid: int) -> None:
    ministack_server.stop(pid, state_dir())
    pid_file().unlink(missing_ok=True)
    env_file().unlink(missing_ok=True)
    deployed_env_file().unlink(missing_ok=True)
    log(f"MiniStack (pid {pid}) stopped")


# ---------------------------------------------------------------------------------------------
# Deploy
# ---------------------------------------------------------------------------------------------


def put_admin_key(admin_key: str) -> None:
    aws_client("ssm").put_parameter(
        Name=ADMIN_KEY_PARAMETER,
        Value=admin_key,
        Type="SecureString",
        Overwrite=True,
        Description="win-notifications admin API key (local stack)",
    )


def sam_deploy(parameters: dict[str, str] | None = None) -> float:
    """`sam deploy` of the local build; ``parameters`` (then STACK_PARAMETERS) add to or override the
    template parameters this script sets itself."""
    if not BUILT_TEMPLATE.exists():
        raise StackError(f"{BUILT_TEMPLATE.relative_to(ROOT)} is missing: run `make build-local` first")
    env = {**os.environ, **aws_env(), "SAM_CLI_TELEMETRY": "0"}
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        env.pop(key, None)
    cmd = [
        str(SAM), "deploy",
        "--config-file", str(SAMCONFIG),
        "--config-env", "local",
        "--template-file", str(BUILT_TEMPLATE),
        "--stack-name", stack_name(),
        "--region", REGION,
        "--no-confirm-changeset",
        "--no-fail-on-empty-changeset",
        "--no-progressbar",
    ]  # fmt: skip
    overrides = {
        "AdminApiKeyParameterName": ADMIN_KEY_PARAMETER,
        # The authorizer fetches the user pool's keys from MiniStack (the issuer keeps its AWS form).
        "CognitoEndpoint": endpoint(),
        "LogLevel": os.environ.get("LOG_LEVEL", "INFO"),
        "DashboardLocalOrigin": endpoint(),
        # Not production: webhooks may point at http://127.0.0.1:<port>, and are retried within seconds.
        "Production": "false",
        "WebhookRetryDelays": "5,15,60,300,900",
        "WebhookLoopbackOnly": "true",  # no delivery (not even a DNS lookup) leaves the machine
        **(parameters or {}),
        **stack_parameters(),
    }
    cmd += ["--parameter-overrides", *(f"{name}={value}" for name, value in overrides.items())]
    log(f"sam deploy -> MiniStack (stack {stack_name()}, log {_shown(deploy_log())})")
    started = time.monotonic()
    with deploy_log().open("w") as out:
        result = subprocess.run(
            cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            timeout=900, check=False,
        )  # fmt: skip
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        tail = "\n".join(deploy_log().read_text(errors="replace").splitlines()[-40:])
        raise StackError(f"sam deploy failed (exit {result.returncode}):\n{tail}")
    log(f"deployed in {elapsed:.1f} s")
    return elapsed


def stack_outputs() -> dict[str, str]:
    stack = aws_client("cloudformation").describe_stacks(StackName=stack_name())["Stacks"][0]
    return {out["OutputKey"]: out["OutputValue"] for out in stack.get("Outputs", [])}


_RESPONSE_PARAMETER_PREFIX = {"Headers": "header", "Paths": "path", "QueryStrings": "querystring"}


def sync_gateway_responses() -> None:
    """Apply each AWS::Serverless::Api's GatewayResponses to the deployed REST API.

    SAM puts them in the OpenAPI body (x-amazon-apigateway-gateway-responses); MiniStack 1.5.x
    ignores that extension when it imports the body, so its 401/403 would be API Gateway's
    defaults. Put them one by one and redeploy the stages (gateway responses take effect with
    a deployment, on AWS as in MiniStack). A no-op when they are already in place.
    """
    from scripts.cloudformation import load_template  # PyYAML: only in .venv-ministack, not needed by `down`

    resources = load_template(BUILT_TEMPLATE).get("Resources", {})
    cfn = aws_client("cloudformation")
    apigw = aws_client("apigateway")
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cfn.describe_stack_resources(StackName=stack_name())["StackResources"]
    }
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Api":
            continue
        wanted = (resource.get("Properties") or {}).get("GatewayResponses") or {}
        api_id = physical.get(logical_id)
        if not wanted or not api_id:
            continue
        changed = []
        for response_type, spec in wanted.items():
            desired: dict[str, Any] = {
                "responseParameters": {
                    f"gatewayresponse.{_RESPONSE_PARAMETER_PREFIX[kind]}.{name}": value
                    for kind, params in (spec.get("ResponseParameters") or {}).items()
                    for name, value in params.items()
                },
                "responseTemplates": spec.get("ResponseTemplates") or {},
            }
            if spec.get("StatusCode") is not None:
                desired["statusCode"] = str(spec["StatusCode"])
            current = apigw.get_gateway_response(restApiId=api_id, responseType=response_type)
            if all(current.get(key) == value for key, value in desired.items()):
                continue
            apigw.put_gateway_response(restApiId=api_id, responseType=response_type, **desired)
            changed.append(response_type)
        if changed:
            for stage in apigw.get_stages(restApiId=api_id)["item"]:
                apigw.create_deployment(
                    restApiId=api_id,
                    stageName=stage["stageName"],
                    description="local-stack: gateway responses",
                )
            log(f"{logical_id}: applied gateway responses {', '.join(changed)} (MiniStack workaround)")


def local_api_url(outputs: dict[str, str]) -> str:
    """MiniStack's path-style execute-api URL for the ApiUrl output.

    ApiUrl is https://<api-id>.execute-api.<region>.<suffix>/<stage>; MiniStack serves the
    same API at http://127.0.0.1:<port>/_aws/execute-api/<api-id>/<stage>.
    """
    api_url = outputs["ApiUrl"].rstrip("/")
    host, _, stage = api_url.removeprefix("https://").partition("/")
    api_id = host.split(".", 1)[0]
    return f"{endpoint()}/_aws/execute-api/{api_id}/{stage}"


def local_dashboard_url(outputs: dict[str, str]) -> str:
    """MiniStack's address for the DashboardUrl output.

    DashboardUrl is https://<label>.cloudfront.net/; MiniStack serves that distribution to requests for the
    host <label>.cloudfront.localhost on its own port.
    """
    host = outputs["DashboardUrl"].removeprefix("https://").split("/", 1)[0]
    label = host.split(".", 1)[0]
    return f"http://{label}.cloudfront.localhost:{port()}/"


def publish_dashboard(outputs: dict[str, str], api_url: str) -> dict[str, str]:
    """The build (if any) and config.json into the bucket; the stack.env values naming them."""
    config = dashboard.app_config(outputs, api_url, f"{endpoint()}/", REGION)
    keys = dashboard.publish(aws_client("s3"), outputs, config)
    if len(keys) == 1:
        log(f"no dashboard build in {_shown(dashboard.DIST)} (make dashboard): uploaded only config.json")
    else:
        log(f"dashboard: uploaded {len(keys)} files to s3://{outputs['DashboardBucket']}")
    if "cognito" not in config:
        log("dashboard: the stack has no UserPoolId/UserPoolClientId outputs; config.json has no sign-in settings")
    return {
        "DASHBOARD_URL": local_dashboard_url(outputs),
        "DASHBOARD_BUCKET": outputs["DashboardBucket"],
        "DASHBOARD_DISTRIBUTION_ID": outputs.get("DashboardDistributionId", ""),
    }


# ---------------------------------------------------------------------------------------------
# Bootstrap through the API
# ---------------------------------------------------------------------------------------------


@dataclass
class Api:
    base_url: str
    admin_key: str
    calls: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        self.calls.append(f"{method} {path} -> {status}")
        return status, payload

    def admin(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        status, payload = self.call(method, path, body, key=self.admin_key)
        if status not in expect:
            raise StackError(f"{method} {path} answered {status}: {payload}")
        return payload


def wait_for_health(api: Api, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    status: int | None = None
    payload: Any = None
    while time.monotonic() < deadline:
        try:
            status, payload = api.call("GET", "/health")
        except (OSError, urllib.error.URLError) as err:
            status, payload = None, str(err)
        if status == 200:
            return
        time.sleep(1)
    raise StackError(f"GET /health never answered 200 (last: {status} {payload}); see {log_file()}")


def bootstrap(api: Api) -> dict[str, str]:
    """Seed the catalog and create a demo account that can send gifts right away."""
    wait_for_health(api)
    synced = api.admin("POST", "/admin/catalog/sync")
    log(f"catalog synced: {synced}")
    account = api.admin("POST", "/admin/accounts", {"name": "Demo account"}, expect=(200, 201))
    account_id = str(account["account_id"])
    api.admin("POST", f"/admin/accounts/{account_id}/gift-approval", {"approved": True})
    api.admin(
        "POST",
        f"/admin/accounts/{account_id}/credits",
        {"amount": DEMO_CREDITS, "reference": f"local-bootstrap-{account_id}"},
    )
    log(f"demo account {account_id}: gift sending approved, {DEMO_CREDITS} credits")
    return {"DEMO_ACCOUNT_ID": account_id, "DEMO_API_KEY": str(account["api_key"]), **demo_user(api, account_id)}


def demo_user(api: Api, account_id: str) -> dict[str, str]:
    """A dashboard user of the demo account whose password is already set (no first-sign-in change)."""
    status, created = api.call(
        "POST", f"/admin/accounts/{account_id}/users", {"email": DEMO_USER_EMAIL, "name": "Demo"}, key=api.admin_key
    )
    pool_id = stack_outputs()["UserPoolId"]
    cognito = aws_client("cognito-idp")
    if status == 409:  # a redeploy into the same MiniStack: the user now belongs to the new demo account
        cognito.admin_delete_user(UserPoolId=pool_id, Username=DEMO_USER_EMAIL)
        created = api.admin("POST", f"/admin/accounts/{account_id}/users", {"email": DEMO_USER_EMAIL}, expect=(201,))
    elif status != 201:
        raise StackError(f"POST /admin/accounts/{account_id}/users answered {status}: {created}")
    # Letters, digits and a symbol: the pool's policy (template.yaml UserPool), easy to type in a demo.
    password = f"Demo-{secrets.token_hex(4)}-{secrets.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{secrets.randbelow(10)}"
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=DEMO_USER_EMAIL, Password=password, Permanent=True)
    log(f"demo user {DEMO_USER_EMAIL} (user {created['user_id']}) of {account_id}, password set")
    return {"DEMO_USER_EMAIL": DEMO_USER_EMAIL, "DEMO_USER_PASSWORD": password}


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def bring_up(
    serve: bool, parameters: dict[str, str] | None = None, extra_env: dict[str, str] | None = None
) -> tuple[int, bool]:
    """Start (or reuse) MiniStack, deploy (with ``parameters`` besides the usual ones), bootstrap; ``extra_env``
    goes into stack.env too. Returns (pid, started_here)."""
    from scripts import redrive  # boto3 and pydantic: only in .venv-ministack, not needed by `down`

    state_dir().mkdir(parents=True, exist_ok=True)
    pid = recorded_pid()
    previous = stack_env.read(env_file()) or stack_env.read(deployed_env_file())
    started_here = pid is None
    if pid is None:
        for stale in (pid_file(), env_file(), deployed_env_file()):  # an earlier stack's, not this one's
            stale.unlink(missing_ok=True)
        pid = start_ministack()
        admin_key = secrets.token_urlsafe(32)
    else:
        if not ministack_server.healthy(port()):
            raise StackError(f"MiniStack pid {pid} (from {pid_file()}) does not answer on {endpoint()}")
        log(f"reusing running MiniStack pid {pid} on {endpoint()}")
        admin_key = previous.get("ADMIN_API_KEY") or secrets.token_urlsafe(32)

    try:
        put_admin_key(admin_key)
        sam_deploy(parameters)
        sync_gateway_responses()
        outputs = stack_outputs()
        queue_urls = redrive.stack_queue_urls(aws_client("cloudformation"), stack_name())
        dashboard_values = publish_dashboard(outputs, local_api_url(outputs))
    except BaseException:
        if started_here:
            stop_ministack(pid)
        raise

    values = {
        "API_URL": local_api_url(outputs),
        "ADMIN_API_KEY": admin_key,
        "STACK_NAME": stack_name(),
        "MINISTACK_PORT": str(port()),
        "MINISTACK_PID": str(pid),
        **aws_env(),
        "DATA_TABLE_NAME": outputs.get("DataTableName", ""),
        "IDEMPOTENCY_TABLE_NAME": outputs.get("IdempotencyTableName", ""),
        **redrive.stack_env_values(queue_urls),  # the send queues and their dead-letter queues (make redrive)
        "EVENT_BUS_NAME": outputs.get("EventBusName", ""),
        # What the dashboard's sign-in needs (config.json "cognito").
        "USER_POOL_ID": outputs.get("UserPoolId", ""),
        "USER_POOL_CLIENT_ID": outputs.get("UserPoolClientId", ""),
        "COGNITO_ENDPOINT": endpoint(),
        **dashboard_values,
        **(extra_env or {}),
    }
    stack_env.write(values, deployed_env_file())

    api = Api(values["API_URL"], admin_key)
    try:
        values.update(bootstrap(api))
    except (StackError, OSError, KeyError, TypeError) as err:
        message = f"bootstrap through the API failed: {err}\n  calls: {'; '.join(api.calls[-5:])}"
        if not serve:
            if started_here:
                stop_ministack(pid)
            raise StackError(message) from err
        log(
            f"WARNING: {message}\n  MiniStack keeps serving so you can look into it (log: {log_file()}; "
            f"the deploy's values: {_shown(deployed_env_file())})."
        )
        return pid, started_here
    stack_env.write(values, env_file())
    print_summary(values, serve)
    return pid, started_here


def print_summary(values: dict[str, str], serve: bool) -> None:
    width = max(len(key) for key in values)
    print("\n" + "=" * 78)
    print(f"Local stack ready - these values are in {_shown(env_file())}:")
    for key, value in values.items():
        print(f"  {key.ljust(width)}  {value}")
    if values.get("DASHBOARD_URL"):
        print(f"\nDashboard: {values['DASHBOARD_URL']}")
    print("\nTry:")
    print(f"  curl -s {values['API_URL']}/health")
    if "DEMO_API_KEY" in values:
        print(f"  curl -s -H 'Authorization: Bearer {values['DEMO_API_KEY']}' {values['API_URL']}/account")
    admin = f"curl -s -H 'Authorization: Bearer {values['ADMIN_API_KEY']}' -H 'Content-Type: application/json'"
    print(f'  {admin} -X POST {values["API_URL"]}/admin/accounts -d \'{{"name": "Acme"}}\'')
    print(f"  or, in a shell:  set -a; . {_shown(env_file())}; set +a")
    print('                   curl -s -H "Authorization: Bearer $DEMO_API_KEY" "$API_URL/gifts"')
    print(f"\nMiniStack log: {_shown(log_file())}")
    elsewhere = f" (LOCAL_STACK_DIR={os.environ['LOCAL_STACK_DIR']})" if "LOCAL_STACK_DIR" in os.environ else ""
    print("Stop: Ctrl-C" if serve else f"Stop: make stack-down{elsewhere}")
    print("=" * 78, flush=True)


def cmd_run() -> int:
    def on_signal(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a shell without job control starts background jobs with SIGINT
    # ignored, and Python keeps it ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    pid: int | None = None
    try:
        pid, _ = bring_up(serve=True)
        while _is_ministack(pid):
            ministack_server.reap(pid)
            time.sleep(1)
        log(f"MiniStack (pid {pid}) exited; see {log_file()}")
        pid_file().unlink(missing_ok=True)
        return 1
    except KeyboardInterrupt:
        print()
        log("stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pid = pid or recorded_pid()
        if pid is not None and _is_ministack(pid):
            stop_ministack(pid)


def cmd_up() -> int:
    bring_up(serve=False)
    return 0


def cmd_down() -> int:
    pid = recorded_pid()
    if pid is None:
        log(f"no MiniStack recorded in {_shown(pid_file())} is running")
        pid_file().unlink(missing_ok=True)
        return 0
    stop_ministack(pid)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "up", "down"])
    args = parser.parse_args(argv)
    try:
        return {"run": cmd_run, "up": cmd_up, "down": cmd_down}[args.command]()
    except StackError as err:
        log(f"ERROR: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
