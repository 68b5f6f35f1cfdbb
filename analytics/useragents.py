"""OS and browser family from a user agent, with the maintained ua-parser regexes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse

MAX_USER_AGENT = 512


@dataclass(frozen=True)
class Client:
    os_family: str
    browser_family: str


@lru_cache(maxsize=4096)
def client_of(user_agent: str) -> Client:
    """Families only, never versions: enough for breakdowns, and not a fingerprint.

    Real traffic repeats a few hundred user agents; a miss costs about 1 ms, a hit about 2 µs.
    """
    if not user_agent:
        return Client(os_family="", browser_family="")
    result = parse(user_agent[:MAX_USER_AGENT])
    os_family = result.os.family if result.os else ""
    browser_family = result.user_agent.family if result.user_agent else ""
    return Client(
        os_family="" if os_family == "Other" else os_family,
        browser_family="" if browser_family == "Other" else browser_family,
    )
