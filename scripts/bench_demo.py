"""What the demo relying party's extra hop costs: one passkey login straight through /v1 and through
/demo/api (which calls /v1 over HTTP, verifies the login token against the JWKS and starts a
session), side by side in one run against the same gunicorn on PostgreSQL + Redis.

Usage: .venv/bin/python scripts/bench_demo.py [--logins 300] [--port 8124]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import platform
import time
import urllib.error
import urllib.request

from bench_common import (
    Client,
    SoftAuthenticator,
    _env,
    _percentiles,
    _prepare_database,
    bench_tenant,
    gunicorn_start,
    manage,
)


class DemoVisitor:
    """A browser without JavaScript: the demo's cookies, CSRF header and JSON endpoints."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.open(base + "/demo/").read()  # the csrftoken cookie

    def post(self, path: str, body: dict) -> tuple[dict, float]:
        token = next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")  # rotated at sign-in
        request = urllib.request.Request(  # noqa: S310 (our own loopback server)
            self.base + path, json.dumps(body).encode(), {"Content-Type": "application/json", "X-CSRFToken": token}
        )
        started = time.perf_counter()
        try:
            with self.opener.open(request) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{path}: {error.code} {error.read().decode()}") from None
        return payload, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--port", type=int, default=8124)
    args = parser.parse_args()
    base = f"http://localhost:{args.port}"
    _prepare_database()
    created = bench_tenant("Demo", "localhost", base)
    make_user = "from demo.services import demo_user_create as c; print(c(username='bench', password='x' * 12).user_id)"
    user_id = manage("shell", "-c", make_user).split()[-1]  # after the shell's own banner
    env = {
        **_env(),
        "DEMO_ENABLED": "true",
        "DEMO_API_URL": f"http://127.0.0.1:{args.port}",
        "DEMO_API_KEY": created["api_key"],
        "DEMO_TENANT_ID": created["tenant_id"],
        "DEMO_RP_ID": "localhost",
        "DEMO_PASSKEY_RATE_LIMIT_PER_IP": str(10**7),
    }
    gunicorn = gunicorn_start(args.port, env, "--workers", "2", "--threads", "4")
    try:
        client = Client(args.port, created["api_key"])
        authenticator = SoftAuthenticator(counter=False)
        _, body, _ = client.post("/v1/registrations/start", {"user_id": user_id, "username": "bench"})
        status, body, _ = client.post(
            "/v1/registrations/finish", {"credential": authenticator.create(body["public_key"], origin=base)}
        )
        assert status == 201, body

        def direct() -> float:
            _, options, start = client.post("/v1/authentications/start", {})
            assertion = authenticator.get(options["public_key"], origin=base)
            status, result, finish = client.post("/v1/authentications/finish", {"credential": assertion})
            assert status == 200, result
            return start + finish

        visitor = DemoVisitor(base)

        def via_demo() -> float:
            options, start = visitor.post("/demo/api/authentications/start", {})
            assertion = authenticator.get(options["public_key"], origin=base)
            result, finish = visitor.post("/demo/api/authentications/finish", {"credential": assertion})
            assert result == {"redirect": "/demo/account/"}, result
            return start + finish

        for measure in (direct, via_demo):  # warm both paths (key cache, signing key, JWKS cache)
            for _ in range(20):
                measure()
        timings: dict[str, list[float]] = {"direct": [], "via_demo": []}
        for _ in range(args.logins):  # interleaved, so drift on the machine hits both alike
            timings["direct"].append(direct())
            timings["via_demo"].append(via_demo())
        print(f"machine        : {platform.machine()}, {platform.python_version()}, gunicorn 2 workers x 4 threads, "
              f"PostgreSQL + Redis, sequential, {args.logins} logins each (round trips of start + finish)")  # fmt: skip
        print(f"  /v1 directly : {_percentiles(timings['direct'])}")
        print(f"  via /demo/api: {_percentiles(timings['via_demo'])}")
    finally:
        gunicorn.terminate()
        gunicorn.wait()


if __name__ == "__main__":
    main()
