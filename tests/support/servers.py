"""Private servers for the fault suite: redis-server, a PostgreSQL cluster and the service under granian.

Each listens on a free loopback port and belongs to the test that started it, so the test may kill
and restart it without touching the shared servers other tests (and other people) are using.
The service runs with scripts/serve's own granian command line and is given its tenant by the benchmark's helpers
(scripts/bench_common.py).
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts import bench_common

ROOT = Path(__file__).resolve().parent.parent.parent
LOOPBACK = "127.0.0.1"
SERVE_SCRIPT = ROOT / "scripts" / "serve"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Return once something accepts connections on the loopback port, else raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {LOOPBACK}:{port} after {timeout} s")


def _tool(name: str) -> str:
    """The full path of a program on PATH."""
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not on PATH")
    return path


def _stop_process(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class RedisServer:
    """A throw-away redis-server without persistence; kill() is a crash (SIGKILL), start() brings it back."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://{LOOPBACK}:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - redis-server from PATH, our own arguments
            [_tool("redis-server"), "--port", str(self.port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def kill(self) -> None:
        _stop_process(self.process, signal.SIGKILL)

    def stop(self) -> None:
        _stop_process(self.process, signal.SIGKILL)


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries (Debian's layout), or None when initdb is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


class PostgresCluster:
    """A private PostgreSQL cluster in a temp directory: trust auth, 127.0.0.1 only, socket in that directory.

    PostgreSQL refuses to run as root, so as root every server command runs as the `postgres` user.
    """

    def __init__(self, bin_dir: Path, port: int | None = None) -> None:
        self.bin_dir = bin_dir
        self.port = port or free_port()
        self.home = Path(tempfile.mkdtemp(prefix="passkey-faults-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres", "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]

    def url(self, database: str) -> str:
        return f"postgres://postgres@{LOOPBACK}:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 - PostgreSQL's own tools, our own arguments
            [*self.as_owner, str(self.bin_dir / tool), *args], capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {done.stderr.strip()}\n{log}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        # fsync off: nothing here outlives the test, and a stop (even "immediate") leaves the OS cache intact.
        options = f"-p {self.port} -k {self.home} -c listen_addresses={LOOPBACK} -c fsync=off"
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "-o", options)

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "30")

    def create_database(self, name: str) -> str:
        subprocess.run(  # noqa: S603 - psql against our own cluster on loopback
            [_tool("psql"), self.url("postgres"), "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True
        )
        return self.url(name)

    def destroy(self) -> None:
        """Stop the server if it runs (immediately: nothing in it is kept) and delete the cluster."""
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except RuntimeError:
                pass  # already down; the directory goes anyway
        shutil.rmtree(self.home, ignore_errors=True)


@contextmanager
def scratch_database(admin_url: str, name: str) -> Iterator[str]:
    """A database of our own on an existing PostgreSQL server, dropped (connections and all) at the end."""

    def psql(sql: str) -> None:
        subprocess.run([_tool("psql"), admin_url, "-qc", sql], check=True, capture_output=True)  # noqa: S603

    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def stop_server(process: subprocess.Popen) -> None:
    """Stop an app server started with start_new_session=True: SIGTERM, then SIGKILL to whatever is left of its
    process group. A granian master stopped while its workers still import the app never exits, and they outlive it.
    """
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)  # a clean stop takes about 2 s
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def serve_command(port: int) -> list[str]:
    """scripts/serve's granian command line, listening on `port`: read from the script, so the tests cannot drift
    from how the embedded default runs."""
    line = next(line for line in SERVE_SCRIPT.read_text().splitlines() if line.startswith("exec .venv/bin/granian "))
    program, *options = shlex.split(line)[1:]  # without `exec`
    return [str(ROOT / program), *(str(port) if option == "$PORT" else option for option in options)]


class Service:
    """The service under granian as scripts/serve runs it (2 workers x 4 blocking threads) on a free loopback port.

    An empty `redis_url` is the embedded default: no Redis, state in the database. granian's own log and the access
    log (its stdout) go to a file; the app's log (stderr, where a 500's traceback lands) stays on the test's output.
    """

    def __init__(self, database_url: str, redis_url: str = "") -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "faults-secret-key",
            "DEBUG": "true",
            "LOG_LEVEL": "ERROR",  # 503s are expected here; errors (a 500) still show
        }
        self.process: subprocess.Popen | None = None
        self.log = Path(tempfile.gettempdir()) / f"passkey-service-{os.getpid()}-{self.port}.log"

    def prepare(self, *, rp_id: str, origin: str) -> dict:
        """Migrate the database and create an unthrottled tenant in it; returns {"tenant_id", "api_key"}."""
        bench_common.manage("migrate", "--noinput", "-v0", env=self.env)
        return bench_common.bench_tenant("Service", rp_id, origin, env=self.env)

    def start(self, timeout: float = 60.0) -> None:
        """Start granian; return once every worker has started and /healthz answers 200, else stop it and raise."""
        command = serve_command(self.port)
        workers = int(command[command.index("--workers") + 1])
        with self.log.open("wb") as log:
            # Its own process group: stop() can then reach workers their master left behind.
            self.process = subprocess.Popen(  # noqa: S603 - our own granian, scripts/serve's arguments
                command, cwd=ROOT, env=self.env, stdout=log, start_new_session=True
            )
        # granian listens before its workers have imported the app, so a connection alone proves nothing.
        deadline = time.monotonic() + timeout  # a loaded machine imports Django slowly
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.log.read_text().count("Started worker-") >= workers and self._healthy():
                return
            time.sleep(0.1)
        log = self.log.read_text()[-2000:]
        self.stop()
        raise RuntimeError(f"granian did not serve /healthz with {workers} workers in {timeout} s:\n{log}")

    def _healthy(self) -> bool:
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process is not None:
            stop_server(self.process)
            self.process = None  # stopped once: a second stop() signals nothing
        self.log.unlink(missing_ok=True)
