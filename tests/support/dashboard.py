"""Reading the dashboard's page: the adoption report it embeds, and its server-drawn panels."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

REPORT_JSON = re.compile(r'<script id="adoption-report" type="application/json">(.*?)</script>', re.S)


def embedded_report(response) -> dict:
    match = REPORT_JSON.search(response.content.decode())
    assert match, "the page embeds no adoption report"
    return json.loads(match.group(1))


class _Panels(HTMLParser):
    """The server-drawn panels: each one's pill, empty message, bars (and rows) as {key: value}, and a panel with
    lines their points as {series: {date: share}}."""

    def __init__(self) -> None:
        super().__init__()
        self.panels: dict[str, dict] = {}
        self._panel: dict | None = None
        self._in: str | None = None
        self._series: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "article":
            self._panel, self._series = None, None
            if "data-panel" in attributes:
                self._panel = self.panels.setdefault(attributes["data-panel"], {"pill": "", "empty": "", "bars": {}})
        elif self._panel is not None and tag == "g" and "data-bar" in attributes:
            self._panel["bars"][attributes["data-bar"]] = int(attributes["data-value"])
        elif self._panel is not None and tag == "g" and "data-series" in attributes:
            self._series = self._panel.setdefault("lines", {}).setdefault(attributes["data-series"], {})
        elif self._series is not None and tag == "circle" and "data-date" in attributes:
            self._series[attributes["data-date"]] = float(attributes["data-value"])
        elif self._panel is not None and "pill" in attributes.get("class", "").split():
            self._in = "pill"
        elif self._panel is not None and tag == "p" and attributes.get("class") == "empty":
            self._in = "empty"

    def handle_endtag(self, tag):
        self._in = None if tag in ("span", "p") else self._in

    def handle_data(self, data):
        if self._panel is not None and self._in:
            self._panel[self._in] += data.strip()


def panels(response) -> dict[str, dict]:
    parser = _Panels()
    parser.feed(response.content.decode())
    return parser.panels
