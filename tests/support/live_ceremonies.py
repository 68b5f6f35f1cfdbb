"""Passkey ceremonies over real HTTP against a running service, recording every answer with its time.

The fault suite runs these from several threads while it breaks a backing server, then judges the
record: what was answered, when, and whether every credential came through intact.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tests.support.authenticator import SoftAuthenticator

RP_ID = "faults.example"
ORIGIN = f"https://{RP_ID}"
NO_ANSWER = 0  # status recorded when the connection itself failed: never acceptable


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: dict[str, Any]
    started: float  # time.monotonic() when the request was sent
    ended: float

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


class LiveClient:
    """JSON over http.client to the service on 127.0.0.1, one connection per request."""

    def __init__(self, port: int, api_key: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: dict | None = None) -> Answer:
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            connection.request(method, path, None if body is None else json.dumps(body), self.headers)
            response = connection.getresponse()
            raw = response.read()
            content_type = response.getheader("Content-Type", "")
            status = response.status
        except OSError as error:  # refused, reset, timed out: the service did not answer
            return Answer(NO_ANSWER, "", {"error": repr(error)}, started, time.monotonic())
        finally:
            connection.close()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:  # not JSON: e.g. Django's HTML error page, whose <title> names the exception
            text = raw.decode("utf-8", "replace")
            title = re.search(r"<title>(.*?)</title>", text, re.DOTALL)
            parsed = {"raw": " ".join(title.group(1).split()) if title else text[:500]}
        return Answer(status, content_type, parsed, started, time.monotonic())

    def register(self, user_id: str) -> SoftAuthenticator:
        """A new user with one passkey in a new authenticator (which counts its signatures)."""
        authenticator = SoftAuthenticator()
        start = self.request("POST", "/v1/registrations/start", {"user_id": user_id, "username": user_id})
        assert start.status == 200, start
        credential = authenticator.create(start.body["public_key"], origin=ORIGIN)
        finish = self.request("POST", "/v1/registrations/finish", {"credential": credential})
        assert finish.status == 201, finish
        return authenticator

    def credentials(self, user_id: str) -> dict[str, int]:
        """The user's stored credentials as {credential id: sign count}."""
        answer = self.request("GET", f"/v1/users/{quote(user_id, safe='')}/credentials")
        assert answer.status == 200, answer
        return {credential["id"]: credential["sign_count"] for credential in answer.body["credentials"]}


@dataclass(frozen=True)
class Attempt:
    """One login attempt: its start answer and, when the start succeeded, its finish answer."""

    user_id: str
    start: Answer
    finish: Answer | None = None
    signed_count: int | None = None  # the sign count the authenticator put in the assertion

    @property
    def answers(self) -> list[tuple[str, Answer]]:
        return [("start", self.start)] + ([("finish", self.finish)] if self.finish else [])

    @property
    def succeeded(self) -> bool:
        return self.finish is not None and self.finish.status == 200


@dataclass
class LoginLoad:
    """Client threads, each logging its own users in over and over (start, sign, finish) until stopped.

    A user belongs to one thread, so its logins are sequential and its sign count only grows.
    Bounded: at most `max_attempts` per thread and `max_seconds` overall; after a failure a thread
    pauses `pause_after_failure` so an outage is not a busy loop.
    """

    client: LiveClient
    users: dict[str, SoftAuthenticator]
    threads: int = 4
    max_attempts: int = 2000
    max_seconds: float = 30.0
    pause_after_failure: float = 0.02
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        names = sorted(self.users)
        for number in range(self.threads):
            mine = names[number :: self.threads]
            worker = threading.Thread(target=self._run, args=(mine,), name=f"login-load-{number}", daemon=True)
            self._workers.append(worker)
            worker.start()

    def stop(self) -> list[Attempt]:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)
        with self._lock:
            return sorted(self.attempts, key=lambda attempt: attempt.start.started)

    def successes_since(self, moment: float) -> int:
        with self._lock:
            return sum(1 for a in self.attempts if a.succeeded and a.finish.ended >= moment)

    def _run(self, user_ids: list[str]) -> None:
        deadline = time.monotonic() + self.max_seconds
        for number in range(self.max_attempts):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            attempt = self._login(user_ids[number % len(user_ids)])
            with self._lock:
                self.attempts.append(attempt)
            if not attempt.succeeded:
                time.sleep(self.pause_after_failure)

    def _login(self, user_id: str) -> Attempt:
        authenticator = self.users[user_id]
        start = self.client.request("POST", "/v1/authentications/start", {"user_id": user_id})
        if start.status != 200:
            return Attempt(user_id, start)
        assertion = authenticator.get(start.body["public_key"], origin=ORIGIN)
        signed = next(iter(authenticator.credentials.values())).sign_count
        finish = self.client.request("POST", "/v1/authentications/finish", {"credential": assertion})
        return Attempt(user_id, start, finish, signed)


class Timeline:
    """Named moments of a fault run, printed relative to the first one."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.events: list[tuple[float, str]] = []
        self.summary = ""

    def mark(self, label: str, at: float | None = None) -> float:
        moment = time.monotonic() if at is None else at
        self.events.append((moment, label))
        return moment

    def render(self) -> str:
        origin = min(moment for moment, _ in self.events)
        lines = [f"== {self.title}"]
        lines += [f"  +{moment - origin:7.3f} s  {label}" for moment, label in sorted(self.events)]
        return "\n".join(lines + ([self.summary] if self.summary else []))


RECOVERY_SECONDS = 5.0  # a backing server back up must serve a successful login within this


@dataclass
class FaultRun:
    """What happened while a backing server was broken and repaired, and what the rules make of it."""

    attempts: list[Attempt]
    fault_at: float  # the server was killed or stopped
    back_at: float  # it accepts connections again
    lost_challenges_allowed: bool  # Redis without persistence forgets challenges issued before a crash

    def answers(self) -> list[tuple[Attempt, str, Answer]]:
        return [(attempt, step, answer) for attempt in self.attempts for step, answer in attempt.answers]

    def unavailable(self) -> list[Answer]:
        return sorted((a for _, _, a in self.answers() if a.status == 503), key=lambda a: a.ended)

    def first_success_after_repair(self) -> float | None:
        ends = [a.finish.ended for a in self.attempts if a.succeeded and a.finish.ended >= self.back_at]
        return min(ends, default=None)

    def lost_challenges(self) -> list[Attempt]:
        return [a for a in self.attempts if a.finish is not None and self._lost_challenge(a, a.finish)]

    def violations(self) -> list[str]:
        """Every answer that breaks a rule: no 5xx but 503, 503 only as the problem and only around the outage."""
        found = []
        for attempt, step, answer in self.answers():
            if answer.status == 200 or (step == "finish" and self._lost_challenge(attempt, answer)):
                continue
            if answer.status == 503 and self._is_unavailable_problem(answer):
                if answer.ended >= self.fault_at and answer.started <= self.back_at + RECOVERY_SECONDS:
                    continue
                problem = "503 outside the outage and its recovery window"
            else:
                problem = "not a success nor a service_unavailable problem"
            found.append(
                f"{step} for {attempt.user_id} at {answer.started - self.fault_at:+.3f} s from the fault: {problem}: "
                f"{answer.status} {answer.content_type} {json.dumps(answer.body)[:1000]}"
            )
        return found

    @staticmethod
    def _is_unavailable_problem(answer: Answer) -> bool:
        return answer.content_type.startswith("application/problem+json") and answer.code == "service_unavailable"

    def _lost_challenge(self, attempt: Attempt, answer: Answer) -> bool:
        return (
            self.lost_challenges_allowed
            and answer.status == 400
            and answer.content_type.startswith("application/problem+json")
            and answer.code == "challenge_not_found"
            and attempt.start.ended <= self.back_at
        )


def wait_until(condition, timeout: float, step: float = 0.02) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def ride_out_fault(
    client: LiveClient,
    users: dict[str, SoftAuthenticator],
    timeline: Timeline,
    *,
    server: str,
    break_it,
    repair_it,
    outage: float = 3.0,
    lost_challenges_allowed: bool = False,
) -> FaultRun:
    """Run logins from four threads; break the server once they succeed, repair it `outage` s later, go on
    until logins succeed again (or RECOVERY_SECONDS pass, and then some), and return the record."""
    load = LoginLoad(client, users)
    load.start()
    try:
        timeline.mark(f"logins start ({load.threads} client threads, {len(users)} users)")
        assert wait_until(lambda: load.successes_since(0) >= 40, 15), "logins do not succeed before the fault"
        fault_at = timeline.mark(f"{server} broken")
        break_it()
        timeline.mark(f"{server} is down")
        time.sleep(outage)
        timeline.mark(f"{server} restart issued")
        repair_it()
        back_at = timeline.mark(f"{server} accepts connections again")
        wait_until(lambda: load.successes_since(back_at) >= 40, RECOVERY_SECONDS + 3)
    finally:
        attempts = load.stop()
    run = FaultRun(attempts, fault_at, back_at, lost_challenges_allowed)
    timeline.mark("logins stopped")
    unavailable = run.unavailable()
    if unavailable:
        timeline.mark("first 503 service_unavailable answered", unavailable[0].ended)
        timeline.mark("last 503 service_unavailable answered", unavailable[-1].ended)
    first_success = run.first_success_after_repair()
    if first_success is not None:
        timeline.mark(f"first successful login after the restart ({first_success - back_at:.3f} s)", first_success)
    logins = sum(1 for a in attempts if a.succeeded)
    timeline.summary = (
        f"  {len(attempts)} login attempts: {logins} succeeded, {len(unavailable)} answers 503 service_unavailable, "
        f"{len(run.lost_challenges())} finishes 400 challenge_not_found (challenge issued before the crash), "
        f"{len(run.violations())} rule violations"
    )
    return run


def assert_credentials_intact(
    client: LiveClient,
    users: dict[str, SoftAuthenticator],
    before: dict[str, dict[str, int]],
    attempts: list[Attempt],
) -> None:
    """Same credential ids, sign counts never lower than before nor than any login that succeeded,
    and every user still logs in."""
    for user_id, counts in before.items():
        after = client.credentials(user_id)
        assert set(after) == set(counts), (user_id, after, counts)
        committed = max((a.signed_count for a in attempts if a.user_id == user_id and a.succeeded), default=0)
        for credential_id, sign_count in after.items():
            assert sign_count >= counts[credential_id], (user_id, credential_id, sign_count, counts)
            assert sign_count >= committed, (user_id, credential_id, sign_count, committed)
    for user_id, authenticator in users.items():
        start = client.request("POST", "/v1/authentications/start", {"user_id": user_id})
        assert start.status == 200, start
        assertion = authenticator.get(start.body["public_key"], origin=ORIGIN)
        finish = client.request("POST", "/v1/authentications/finish", {"credential": assertion})
        assert finish.status == 200, finish
