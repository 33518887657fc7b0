"""MiniStack, the local AWS, as a process on 127.0.0.1: start one, wait until it answers, stop it.

Used by `make run` / `make stack-up` / `make stack-down` (scripts/local_stack.py, and through them the e2e
suite and `make verify`) and by the benchmark (bench/run.py). Standard library only: `make stack-down` may
run without the MiniStack venv.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXECUTABLE = ROOT / ".venv-ministack" / "bin" / "ministack"
HOST = "127.0.0.1"
REGION = "ap-northeast-2"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
START_SECONDS = 60
STOP_SECONDS = 10

# Host variables MiniStack may see. It hands its own environment on to every Lambda worker
# (spawn env = MiniStack's env + the function's variables), so keep the shell's out of it.
_ENV_KEEP = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR")


class MiniStackError(RuntimeError):
    """MiniStack could not be started; the message says where to look."""


def endpoint(port: int) -> str:
    return f"http://{HOST}:{port}"


def client_env(port: int) -> dict[str, str]:
    """What an AWS client of this MiniStack needs: endpoint, region, dummy credentials."""
    return {"AWS_ENDPOINT_URL": endpoint(port), "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, **DUMMY_CREDENTIALS}


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint(port)}/_ministack/health", timeout=2) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def is_running(pid: int, workdir: Path) -> bool:
    """True while `pid` is a MiniStack started by `start` in `workdir` (so a reused pid is never taken for it)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return b"ministack" in cmdline and Path(cwd) == workdir.resolve()


def start(port: int, workdir: Path, log_file: Path, log_level: str = "INFO", pid_file: Path | None = None) -> int:
    """Starts MiniStack on 127.0.0.1:`port` (cwd `workdir`, output to `log_file`) and returns its pid once it
    answers; `pid_file`, if given, holds the pid from the moment it is launched. MiniStack gets its own session,
    so Ctrl-C in a terminal reaches only the caller, which stops it; if the wait is interrupted, it is stopped."""
    if port_in_use(port):
        raise MiniStackError(f"{HOST}:{port} is already in use by something else; pick another port")
    workdir.mkdir(parents=True, exist_ok=True)
    env = {key: os.environ[key] for key in _ENV_KEEP if key in os.environ}
    env |= {
        "GATEWAY_PORT": str(port),
        "BIND_HOST": HOST,
        "MINISTACK_REGION": REGION,
        "LOG_LEVEL": log_level,
        "PYTHONUNBUFFERED": "1",
        **DUMMY_CREDENTIALS,
    }
    with log_file.open("w") as output:
        process = subprocess.Popen(
            [str(EXECUTABLE)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if pid_file is not None:
        pid_file.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_SECONDS
    try:
        while not healthy(port):
            if process.poll() is not None:
                raise MiniStackError(f"MiniStack exited with {process.returncode}; see {log_file}")
            if time.monotonic() > deadline:
                raise MiniStackError(f"MiniStack did not answer within {START_SECONDS} s; see {log_file}")
            time.sleep(0.3)
    except BaseException:
        stop(process.pid, workdir)
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)
        raise
    return process.pid


def stop(pid: int, workdir: Path) -> None:
    """SIGTERM MiniStack's process group (it and its Lambda workers), SIGKILL after STOP_SECONDS."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while is_running(pid, workdir) and time.monotonic() < deadline:
        reap(pid)
        time.sleep(0.2)
    if is_running(pid, workdir):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    reap(pid)


def reap(pid: int) -> None:
    """Collects the exit status of a MiniStack this process started (no zombie left behind)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@contextlib.contextmanager
def running(port: int, workdir: Path, log_file: Path, log_level: str = "INFO") -> Iterator[int]:
    """A MiniStack for the duration of a `with` block; its state is in memory and goes with it."""
    pid = start(port, workdir, log_file, log_level)
    try:
        yield pid
    finally:
        stop(pid, workdir)
