"""``[alerts]`` in ``weir.toml``: who hears about incidents, and how.

.. code-block:: toml

    [alerts]
    team = ["data-team@example.com"]      # the data team (default: [defaults] owners)

    [alerts.routes.ops]                   # a route: one channel, one audience
    channel = "email"                     # email | webhook | file
    audience = "business"                 # business: the owners of impacted insights; team: the data team
    smtp_host = "127.0.0.1"               # no min_severity: told of every incident that makes an insight suspect or broken

    [alerts.routes.chat]
    channel = "webhook"
    audience = "team"
    url = "https://hooks.example/T000"
    secret_env = "WEIR_ALERT_SECRET"      # HMAC-SHA256 key, read from this environment variable

Validated field by field on load, like the rest of the file: an unknown key, channel or
audience is one line naming it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from weir.errors import ConfigError

CHANNELS = ("email", "webhook", "file")
AUDIENCES = ("business", "team")
SEVERITIES = ("low", "medium", "high", "critical")  # in order: a route hears of incidents at or above its min_severity
FILE_FORMATS = ("jsonl", "text")
_ALERTS_KEYS = {"team", "routes", "max_attempts", "backoff", "max_backoff"}
_COMMON = {"channel", "audience", "to", "timeout", "min_severity"}
_CHANNEL_KEYS = {
    "email": _COMMON | {"smtp_host", "smtp_port", "starttls", "username", "password_env", "sender"},
    "webhook": _COMMON | {"url", "secret_env", "headers"},
    "file": _COMMON | {"path", "format"},
}


@dataclass(frozen=True, kw_only=True)
class Route:
    """One way out: a channel (with its settings) and the audience it speaks to."""

    name: str
    channel: str
    audience: str
    to: tuple[str, ...] = ()  # email recipients; empty: the insights' owners (business) or the team
    timeout: float = 5.0  # per attempt: an endpoint that does not answer never holds a command up for long
    smtp_host: str = "localhost"
    smtp_port: int = 25
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None
    sender: str = "weir@localhost"
    url: str | None = None
    secret_env: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    path: str = "alerts.jsonl"  # file channel: relative to the project folder
    format: str = "jsonl"  # file channel: one JSON line per message, or readable text blocks
    # None: every incident, whatever its severity (a business route: every one that makes an insight
    # it reaches suspect or broken); set, the route skips those below it and the outbox says so
    min_severity: str | None = None

    def hears(self, severity: str) -> bool:
        """Whether an incident of ``severity`` is for this route."""
        if self.min_severity is None:
            return True
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        return rank.get(severity, 1) >= rank[self.min_severity]

    def describe(self) -> str:
        where = {"email": f"smtp://{self.smtp_host}:{self.smtp_port}", "webhook": self.url or "",
                 "file": self.path}[self.channel]
        return f"{self.channel} to {self.audience} ({where})"


@dataclass(frozen=True, kw_only=True)
class AlertsConfig:
    """What ``[alerts]`` says. No routes: incidents are kept and listed but nobody is notified."""

    team: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()
    max_attempts: int = 10  # then the message is dead-lettered: 'weir alerts retry ID' sends it again
    backoff: float = 30.0  # seconds before the 2nd attempt; doubles each time
    max_backoff: float = 3600.0

    def route(self, name: str) -> Route | None:
        return next((r for r in self.routes if r.name == name), None)


def parse_alerts(section: Any, where: str) -> AlertsConfig:
    if not isinstance(section, dict):
        raise ConfigError("[alerts] must be a table", where=where)
    _unknown(section, _ALERTS_KEYS, "alerts.", where)
    team = _strings(section.get("team", []), "alerts.team", where)
    numbers: dict[str, Any] = {}
    for key, low, high in (("max_attempts", 1, 1000), ("backoff", 0, 86400), ("max_backoff", 0, 7 * 86400)):
        if key in section:
            value = section[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ConfigError(f"alerts.{key} must be a number between {low} and {high}, got {value!r}", where=where)
            numbers[key] = int(value) if key == "max_attempts" else float(value)
    routes = section.get("routes", {})
    if not isinstance(routes, dict):
        raise ConfigError("[alerts.routes] must be a table of routes, e.g. [alerts.routes.ops]", where=where)
    return AlertsConfig(team=team, routes=tuple(_route(name, body, where) for name, body in routes.items()),
                        **numbers)


def _route(name: str, body: Any, where: str) -> Route:
    at = f"alerts.routes.{name}"
    if not re.match(r"^[A-Za-z][A-Za-z0-9_-]*$", name):
        raise ConfigError(f"route name {name!r} must be letters, digits, '-' and '_'", where=where)
    if not isinstance(body, dict):
        raise ConfigError(f"[{at}] must be a table", where=where)
    channel = body.get("channel")
    if channel not in CHANNELS:
        raise ConfigError(f"{at}.channel {channel!r} must be one of: {', '.join(CHANNELS)}", where=where)
    _unknown(body, _CHANNEL_KEYS[channel], f"{at}.", where)
    audience = body.get("audience")
    if audience not in AUDIENCES:
        raise ConfigError(f"{at}.audience {audience!r} must be one of: {', '.join(AUDIENCES)}", where=where)
    values: dict[str, Any] = {"name": name, "channel": channel, "audience": audience,
                              "to": _strings(body.get("to", []), f"{at}.to", where)}
    timeout = body.get("timeout", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 120:
        raise ConfigError(f"{at}.timeout must be seconds between 0 and 120, got {timeout!r}", where=where)
    values["timeout"] = float(timeout)
    for key, allowed in (("min_severity", SEVERITIES), ("format", FILE_FORMATS)):
        if key in body:
            if body[key] not in allowed:
                raise ConfigError(f"{at}.{key} {body[key]!r} must be one of: {', '.join(allowed)}", where=where)
            values[key] = body[key]
    for key in ("smtp_host", "username", "password_env", "sender", "secret_env", "path"):
        if key in body:
            if not isinstance(body[key], str) or not body[key].strip():
                raise ConfigError(f"{at}.{key} must be a non-empty string, got {body[key]!r}", where=where)
            values[key] = body[key]
    if "smtp_port" in body:
        port = body["smtp_port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"{at}.smtp_port must be a port number, got {port!r}", where=where)
        values["smtp_port"] = port
    if "starttls" in body:
        if not isinstance(body["starttls"], bool):
            raise ConfigError(f"{at}.starttls must be true or false, got {body['starttls']!r}", where=where)
        values["starttls"] = body["starttls"]
    if channel == "webhook":
        url = body.get("url")
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{at}.url {url!r} must be an http:// or https:// URL", where=where)
        values["url"] = url
        headers = body.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ConfigError(f"{at}.headers must be a table of strings, got {headers!r}", where=where)
        values["headers"] = tuple(sorted(headers.items()))
    if channel == "email" and "username" in values and "password_env" not in values:
        raise ConfigError(f"{at}.username needs {at}.password_env (the variable holding the password)", where=where)
    return Route(**values)


def _unknown(got: dict[str, Any], allowed: set[str], prefix: str, where: str) -> None:
    extra = sorted(set(got) - allowed)
    if extra:
        raise ConfigError(f"unknown key {prefix + extra[0]!r} (allowed: {', '.join(sorted(allowed))})", where=where)


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{key} must be a list of addresses, got {value!r}", where=where)
    return tuple(value)


__all__ = ["AUDIENCES", "CHANNELS", "FILE_FORMATS", "SEVERITIES", "AlertsConfig", "Route", "parse_alerts"]
