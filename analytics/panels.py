"""The dashboard's server-drawn panels: bars, lines and the Authenticators card as SVG, built from the adoption report
(the Authenticators card from `authenticators_now`). Nothing is counted here: every figure is the report's, and
each builder returns what the template draws, coordinates included.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from statistics import median_low

from tenants.models import AttestationPolicy, CredentialKinds, Tenant

from .models import CLIENT_CANCELLATIONS, CLIENT_ERRORS, ClientOutcome, LoginDecisionReason
from .selectors import CAPABILITIES_REPORTED, PERCENTILES, rate


def percent(rate: float) -> str:
    return f"{rate * 100:.1f} %"


_NOT_SUMMED = {"date", *PERCENTILES}  # a range's percentile is no sum of days' (see `_median_day`)


def report_totals(report: dict) -> dict[str, int]:
    """Each count of the report's days summed over the range (rates are not summed: they are recomputed)."""
    days = report["days"]
    summed = [name for name in days[0] if name not in _NOT_SUMMED and not name.endswith("rate")]
    return {name: sum(day[name] for day in days) for name in summed}


# The v1.1 panels are bars drawn on the server as SVG, in the charts' colours: dashboard.js draws only the
# canvases it knows, and these need no script at all. Coordinates are in a 400 x 280 viewBox.
_SLATE, _TEAL, _SKY, _VIOLET, _EMERALD = "#94a3b8", "#0d9488", "#0284c7", "#7c3aed", "#059669"
_AMBER, _ORANGE, _PINK, _ROSE, _CLOUD = "#d97706", "#ea580c", "#db2777", "#e11d48", "#cbd5e1"
_PLOT_LEFT, _PLOT_WIDTH, _BASELINE, _TALLEST, _BAR_WIDTH = 12, 376, 236, 196, 64
CREATION_PATH_BARS = (  # the report's creation_path keys, in the panel's order
    ("nudge", "Nudge", _EMERALD),
    ("automatic_upgrade", "Automatic upgrade", _VIOLET),
    ("other", "Other", _SLATE),
)


def _bars(
    steps: list[tuple[str, str, int, str, str]],
    *,
    left: int = _PLOT_LEFT,
    width: int = _PLOT_WIDTH,
    tallest: int = _TALLEST,
    bar_width: int = _BAR_WIDTH,
    full: int | None = None,
) -> list[dict]:
    """(key, label, value, note, colour) of each bar, side by side; `full` (by default the largest value) is the
    full height."""
    largest = (full if full is not None else max(value for _, _, value, _, _ in steps)) or 1
    slot = width / len(steps)
    bars = []
    for index, (key, label, value, note, colour) in enumerate(steps):
        height = round(value / largest * tallest)
        if value and not height:
            height = 1  # a small count is still seen
        centre = round(left + slot * (index + 0.5))
        bars.append(
            {
                "key": key, "label": label, "value": value, "display": f"{value:,}", "note": note, "colour": colour,
                "x": centre - bar_width // 2, "y": _BASELINE - height, "width": bar_width, "height": height,
                "centre": centre,
            }
        )  # fmt: skip
    return bars


def _share(part: int, whole: int, of: str) -> str:
    return f"{percent(rate(part, whole))} of {of}"


def report_panels(report: dict) -> list[dict]:
    """Automatic upgrades (other-method sign-ins, then offers, then passkeys made), new passkeys by creation path,
    and passkey sign-ins from another device: the range's totals, from the report only."""
    total = report_totals(report)
    other_sign_ins = total["sign_ins"] - total["passkey_sign_ins"]
    offered, completed = total["automatic_upgrades_offered"], total["automatic_upgrades_completed"]
    paths = report["breakdowns"]["creation_path"]
    created = sum(paths.get(key, 0) for key, _, _ in CREATION_PATH_BARS)
    cross_device, passkey_sign_ins = total["cross_device_sign_ins"], total["passkey_sign_ins"]
    same_device = passkey_sign_ins - cross_device  # platform, or a client that did not say
    return [
        {
            "key": "automatic-upgrades",
            "title": "Automatic upgrades",
            "pill": f"{percent(rate(completed, offered))} completed",
            "about": "Silent passkey creation offered after other sign-ins.",
            "empty": "No automatic upgrades offered in this range." if not offered else "",
            "bars": _bars(
                [
                    ("sign_ins", "Sign-ins", other_sign_ins, "by other methods", _SLATE),
                    ("offered", "Offered", offered, _share(offered, other_sign_ins, "sign-ins"), _SKY),
                    ("completed", "Completed", completed, _share(completed, offered, "offered"), _VIOLET),
                ]
            ),
        },
        {
            "key": "creation-paths",
            "title": "New passkeys by path",
            "pill": f"{created:,} new",
            "about": "After a nudge, by an automatic upgrade, or otherwise.",
            "empty": "No passkeys registered in this range." if not created else "",
            "bars": _bars(
                [
                    (key, label, paths.get(key, 0), _share(paths.get(key, 0), created, "new"), colour)
                    for key, label, colour in CREATION_PATH_BARS
                ]
            ),
        },
        {
            "key": "cross-device",
            "title": "Cross-device sign-ins",
            "pill": f"{percent(rate(cross_device, passkey_sign_ins))} of passkey sign-ins",
            "about": "Passkey sign-ins with a phone or a security key.",
            "empty": "No passkey sign-ins in this range." if not passkey_sign_ins else "",
            "bars": _bars(
                [
                    ("same_device", "Same device", same_device, _share(same_device, passkey_sign_ins, "all"), _TEAL),
                    ("cross_device", "Cross-device", cross_device, _share(cross_device, passkey_sign_ins, "all"), _SKY),
                ]
            ),
        },
    ]


# Where passkey logins end: the client_outcomes breakdown's outcomes as bars, in the panel's order. Each outcome is in
# one bar, and "error" is every error other than the two named, as the metrics' client_errors counts them.
LOGIN_END_BARS = (
    ("succeeded", "Succeeded", {ClientOutcome.SUCCEEDED}, _TEAL),
    ("cancelled", "Cancelled", CLIENT_CANCELLATIONS, _AMBER),
    ("no_credential", "No credential", {ClientOutcome.NO_CREDENTIAL}, _ORANGE),
    ("timed_out", "Timed out", {ClientOutcome.TIMED_OUT}, _PINK),
    ("error", "Error", CLIENT_ERRORS - {ClientOutcome.NO_CREDENTIAL, ClientOutcome.TIMED_OUT}, _ROSE),
    ("aborted", "Aborted", {ClientOutcome.ABORTED}, _SKY),
)
CAPABILITY_BARS = (  # getClientCapabilities() names, in the panel's order
    ("conditionalGet", "Conditional get", _TEAL),
    ("conditionalCreate", "Conditional create", _VIOLET),
    ("hybridTransport", "Hybrid transport", _SKY),
)
_WIDE_PLOT_WIDTH, _WIDE_BAR_WIDTH = 776, 56  # a span-2 panel's bars, in an 800 x 280 viewBox


def _median_day(report: dict, name: str) -> int | None:
    """The median over the range's days of a daily percentile (days without one left out): a range's own
    percentile is not made of its days', so the panel says which figure this is."""
    values = [day[name] for day in report["days"] if day[name] is not None]
    return median_low(values) if values else None


def _seconds(milliseconds: int | None) -> str:
    return "–" if milliseconds is None else f"{milliseconds / 1000:.1f} s"


def client_outcome_panels(report: dict) -> list[dict]:
    """Where passkey logins end (sign-ins started, then each as the browser reported it ended, the rest unreported)
    and which capabilities the reporting browsers have: the range's totals, from the report only."""
    total, breakdowns = report_totals(report), report["breakdowns"]
    outcomes, capabilities = breakdowns["client_outcomes"], breakdowns["capabilities"]
    started = total["authentications_started"]
    ends = [
        (key, label, sum(outcomes.get(outcome, 0) for outcome in members), colour)
        for key, label, members, colour in LOGIN_END_BARS
    ]
    unreported = started - sum(outcomes.values())
    if unreported > 0:
        ends.append(("no_report", "No report", unreported, _CLOUD))
    steps = [("started", "Started", started, "passkey sign-ins", _SLATE)] + [
        (key, label, value, _share(value, started, "started"), colour) for key, label, value, colour in ends
    ]
    p50, p95 = (_median_day(report, name) for name in PERCENTILES)
    reported = capabilities.get(CAPABILITIES_REPORTED, 0)
    offered = _bars(
        [
            (key, label, capabilities.get(key, 0), f"{capabilities.get(key, 0):,} of {reported:,} reports", colour)
            for key, label, colour in CAPABILITY_BARS
        ],
        full=reported,
    )
    for bar in offered:
        bar["display"] = percent(rate(bar["value"], reported))
    return [
        {
            "key": "login-ends",
            "title": "Where passkey logins end",
            "pill": f"p50 {_seconds(p50)} · p95 {_seconds(p95)}",
            "about": "Passkey sign-ins started, and how the browser said each ended. Time to a passkey in the browser, "
            "on the median day: p50 and p95.",
            "empty": "No passkey sign-ins started in this range." if not (started or outcomes) else "",
            "wide": True,
            "bars": _bars(steps, width=_WIDE_PLOT_WIDTH, bar_width=_WIDE_BAR_WIDTH),
        },
        {
            "key": "capabilities",
            "title": "Capabilities",
            "pill": f"{reported:,} reports",
            "about": "Share of sign-in reports whose browser offers passkey autofill (conditional get), automatic "
            "upgrades (conditional create) and a phone's passkey over hybrid.",
            "empty": "No sign-in reports with capabilities in this range." if not reported else "",
            "bars": offered,
        },
    ]


# Login decisions (POST /v1/login-decisions). Each day's share of decisions that led with a passkey, next to its
# passkey sign-in rate: two lines in an 800 x 280 viewBox (plot from x 44 to 792, 0 % on the bars' baseline, 100 % at
# y 40), a day with nothing to divide by left out of its line rather than drawn at 0 %. And the decisions by reason, as
# rows in a 400 x 280 viewBox, coloured by what each reason leads with.
_LINE_LEFT, _LINE_WIDTH = 44, 748
PASSKEY_FIRST = ("login_decisions_passkey", "login_decisions_autofill")
DECISIONS = (*PASSKEY_FIRST, "login_decisions_password")
_REASON = LoginDecisionReason
REASON_ROWS = (  # every reason: those that lead with a passkey, then with autofill, then with a password
    (_REASON.REMEMBERED_ON_DEVICE, "Remembered on device", _TEAL),
    (_REASON.USABLE_ON_PLATFORM, "Usable on platform", _TEAL),
    (_REASON.CONDITIONAL_UI_AVAILABLE, "Conditional UI available", _SKY),
    (_REASON.NO_PASSKEY_FOR_PLATFORM, "No passkey for platform", _SLATE),
    (_REASON.NO_PASSKEY, "No passkey", _SLATE),
    (_REASON.RECENT_FAILURES, "Recent failures", _SLATE),
    (_REASON.CONDITIONAL_UI_UNAVAILABLE, "Conditional UI unavailable", _SLATE),
    (_REASON.WEBAUTHN_UNAVAILABLE, "WebAuthn unavailable", _SLATE),
)
_ROW_TOP, _ROW_STEP, _ROW_WIDTH = 4, 34, 400


DayShare = Callable[[dict], tuple[float | None, str]]  # a day's share (None: nothing to divide by) and its note


def _passkey_first(day: dict) -> tuple[float | None, str]:
    decided = sum(day[name] for name in DECISIONS)
    led = sum(day[name] for name in PASSKEY_FIRST)
    return (rate(led, decided) if decided else None), f"{led:,} of {decided:,} decisions"


def _sign_in_rate(day: dict) -> tuple[float | None, str]:
    signed_in, note = day["sign_ins"], f"{day['passkey_sign_ins']:,} of {day['sign_ins']:,} sign-ins"
    return (day["passkey_sign_in_rate"] if signed_in else None), note


def _day_label(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {day:%b}"


def _lines(days: list[dict], series: list[tuple[str, str, str, DayShare]]) -> dict:
    """(key, label, colour, share of a day) of each line: a path through the days that have a share, broken where a
    day has none, and a point on each (a lone day is a point only)."""
    slot = _LINE_WIDTH / len(days)
    xs = [round(_LINE_LEFT + slot * (index + 0.5), 1) for index in range(len(days))]
    lines = []
    for number, (key, label, colour, share) in enumerate(series):
        points, path, pen = [], [], "M"
        for x, day in zip(xs, days, strict=True):
            value, note = share(day)
            if value is None:
                pen = "M"
                continue
            y = round(_BASELINE - value * _TALLEST, 1)
            path.append(f"{pen}{x} {y}")
            pen = "L"
            points.append({"date": day["date"], "label": _day_label(day["date"]), "value": value,
                           "display": percent(value), "note": note, "x": x, "y": y})  # fmt: skip
        lines.append({"key": key, "label": label, "colour": colour, "path": " ".join(path), "points": points,
                      "legend_x": _LINE_LEFT + number * 220})  # fmt: skip
    ends = [(0, "start"), (len(days) - 1, "end")] if len(days) > 1 else [(0, "middle")]
    return {
        "lines": lines,
        "left": _LINE_LEFT,
        "radius": 3 if len(days) <= 62 else 1.5,
        "grid": [{"y": _BASELINE - share * _TALLEST // 4, "label": f"{share * 25} %"} for share in range(5)],
        "ticks": [
            {"x": xs[index], "label": _day_label(days[index]["date"]), "anchor": anchor} for index, anchor in ends
        ],
    }


def login_decision_panels(report: dict) -> list[dict]:
    """Passkey-first share (each day's decisions that led with a passkey, one tap or autofill, beside the passkey
    sign-in rate: do decisions become passkey sign-ins?) and the range's decisions by reason, from the report only."""
    total, reasons = report_totals(report), report["breakdowns"]["login_decision_reasons"]
    decided, led = sum(total[name] for name in DECISIONS), sum(total[name] for name in PASSKEY_FIRST)
    signed_in = rate(total["passkey_sign_ins"], total["sign_ins"])
    empty = "No login decisions in this range." if not decided else ""
    largest = max(reasons.values(), default=0) or 1
    rows = []
    for index, (key, label, colour) in enumerate(REASON_ROWS):
        value = reasons.get(key, 0)
        rows.append({"key": key.value, "label": label, "value": value, "display": f"{value:,}", "colour": colour,
                     "note": percent(rate(value, decided)), "y": _ROW_TOP + index * _ROW_STEP,
                     "width": max(round(value / largest * _ROW_WIDTH), 1 if value else 0)})  # fmt: skip
    return [
        {
            "key": "passkey-first",
            "title": "Passkey-first share",
            "pill": f"{percent(rate(led, decided))} passkey-first" if decided else "no decisions",
            "about": "Each day, the share of login decisions that led with a passkey (one tap or autofill) next to "
            "the share of sign-ins made with one. A day without decisions has no point.",
            "summary": f"{percent(rate(led, decided))} of {decided:,} decisions led with a passkey; "
            f"{percent(signed_in)} of sign-ins were made with one",
            "empty": empty,
            "wide": True,
            "chart": "lines",
            **_lines(
                report["days"],
                [
                    ("passkey_first", "Passkey-first share", _VIOLET, _passkey_first),
                    ("passkey_sign_in_rate", "Passkey sign-in rate", _TEAL, _sign_in_rate),
                ],
            ),
        },
        {
            "key": "decision-reasons",
            "title": "Login decisions by reason",
            "pill": f"{decided:,} decisions",
            "about": "Why each decision led as it did: teal reasons lead with a passkey, blue with autofill, grey "
            "with a password.",
            "empty": empty,
            "chart": "rows",
            "bars": rows,
        },
    ]


# The Authenticators card: one SVG in an 800 x 450 viewBox. Attestation verdicts as bars on the left (x 0-300), the
# largest authenticator models as rows on the right (names from x 340, bars from x 560), and below them (y 354) what
# a stricter policy would refuse.
_RED, _GREEN, _MUTED = "#b91c1c", "#047857", "#64748b"
VERDICT_BARS = (  # AttestationVerdict values, in the panel's order
    ("none", "None", _SLATE),
    ("self", "Self", _SKY),
    ("verified", "Verified", _EMERALD),
    ("untrusted", "Untrusted", _ROSE),
)
_ROWS_TOP, _ROW_HEIGHT, _ROW_BAR_WIDTH, _NAME_CHARS = 28, 26, 196, 28
_BOX_WIDTH, _BOX_STEP = 186, 204  # strokes inside the viewBox: x 1-187, ..., 613-799


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _status_look(status: str, compromised: bool) -> tuple[str, str, str, str]:
    """(status, its text, the text's colour, the bar's colour): a compromise in red, a certification in green."""
    if compromised:
        return status, status, _RED, _ROSE
    if status.startswith("FIDO_CERTIFIED"):
        return status, status, _GREEN, _TEAL
    return status, status or "no metadata status", _MUTED, _TEAL


def _model_rows(figures: dict) -> list[dict]:
    """The largest models, then the rest as one row that says how many of its credentials are on compromised
    models; each bar as long as its share of the largest row."""
    rows = []
    for model in figures["authenticators"]:
        aaguid, count = str(model["aaguid"]), model["count"]
        name, short = model["name"], _clip(model["name"], _NAME_CHARS)
        if not name:  # neither the metadata nor the AAGUID list knows it
            name, short = f"Unnamed model, AAGUID {aaguid}", f"Unnamed model ({aaguid[:8]}…)"
        look = _status_look(model["status"], model["compromised"])
        rows.append((aaguid, name, short, *look, count, count if model["compromised"] else 0))
    if figures["other"]:
        hidden = figures["compromised"] - sum(row[-1] for row in rows)
        note, shade = (f"{hidden:,} on compromised models", _RED) if hidden else ("", _MUTED)
        rows.append(("other", "Other models", "Other models", "", note, shade, _SLATE, figures["other"], hidden))
    largest = max((row[-2] for row in rows), default=0) or 1
    return [
        {
            "key": key, "name": name, "short": short, "status": status, "status_text": text, "status_colour": shade,
            "colour": colour, "value": count, "display": f"{count:,}", "compromised": compromised,
            "note": _share(count, figures["total"], "all"), "y": _ROWS_TOP + index * _ROW_HEIGHT,
            "width": max(round(count / largest * _ROW_BAR_WIDTH), 1),
        }
        for index, (key, name, short, status, text, shade, colour, count, compromised) in enumerate(rows)
    ]  # fmt: skip


def _refusal_boxes(figures: dict, tenant: Tenant) -> list[dict]:
    """What `enforce` and each credential_kinds would refuse of today's credentials, the tenant's own settings
    marked current; credentials on a compromised model are in red whatever the policy."""
    total, kinds = figures["total"], figures["kinds_refuse"]
    enforce = tenant.attestation_policy == AttestationPolicy.ENFORCE
    boxes = [
        ("compromised", figures["compromised"], "on compromised models", "enforce refuses sign-in", enforce,
         figures["compromised"] > 0),
        ("enforce_registration", figures["enforce_refuses_registration"], "refused at registration", "under enforce",
         enforce, False),
        ("device_bound", kinds[CredentialKinds.DEVICE_BOUND], "refused at registration", "device-bound only (BE set)",
         tenant.credential_kinds == CredentialKinds.DEVICE_BOUND, False),
        ("synced", kinds[CredentialKinds.SYNCED], "refused at registration", "synced only (BE clear)",
         tenant.credential_kinds == CredentialKinds.SYNCED, False),
    ]  # fmt: skip
    return [
        {
            "key": key, "value": value, "display": f"{value:,}", "label": label, "condition": condition,
            "note": _share(value, total, "passkeys"), "current": current, "alarm": alarm,
            "x": 1 + index * _BOX_STEP, "width": _BOX_WIDTH, "right": 1 + index * _BOX_STEP + _BOX_WIDTH,
        }
        for index, (key, value, label, condition, current, alarm) in enumerate(boxes)
    ]  # fmt: skip


def authenticator_card(*, tenant: Tenant, figures: dict) -> dict:
    """The Authenticators card from `authenticators_now`'s figures: nothing is counted here."""
    total = figures["total"]
    return {
        "total": total,
        "policy": tenant.attestation_policy,
        "kinds": tenant.credential_kinds,
        "about": f"The {total:,} passkeys held now, whatever the range: attestation, authenticator model, "
        "and what a stricter policy would refuse.",
        "verdicts": _bars(
            [
                (key, label, figures["attestation"][key], _share(figures["attestation"][key], total, "all"), colour)
                for key, label, colour in VERDICT_BARS
            ],
            left=0,
            width=300,
            tallest=180,
            bar_width=44,
        ),
        "models": _model_rows(figures),
        "boxes": _refusal_boxes(figures, tenant),
    }
