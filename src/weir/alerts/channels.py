"""Sending one message over one route: a webhook (JSON, HMAC-signed, with a Slack-compatible
``text``), email over SMTP (STARTTLS and login optional) or a JSON-lines file.

Every send carries the message's idempotency key (``Idempotency-Key`` header, the email's
``Message-ID``, the file line's ``key``) so a receiver can drop the repeat of an at-least-once
delivery. A failure raises :class:`DeliveryError`, saying whether trying again can help and,
when the endpoint said so (``Retry-After``), when."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING

from weir.alerts.messages import Message
from weir.project.alerts import Route

if TYPE_CHECKING:
    from datetime import datetime

SIGNATURE_HEADER = "X-Weir-Signature"
TIMESTAMP_HEADER = "X-Weir-Timestamp"


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent  # trying again cannot help (a rejected request): dead-letter it now
        self.retry_after = retry_after  # seconds, when the endpoint asked


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature: ``sha256=`` + HMAC-SHA256 of ``"<timestamp>." + body`` under the secret.
    A receiver recomputes it and compares (and rejects old timestamps against replays)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, at - (time.time() if now is None else now))


def send(route: Route, message: Message, key: str, *, root: Path) -> str:
    """Send ``message`` over ``route``; returns where it went. Raises DeliveryError."""
    if route.channel == "webhook":
        return _webhook(route, message, key)
    if route.channel == "email":
        return _email(route, message, key)
    return _file(route, message, key, root)


def _webhook(route: Route, message: Message, key: str) -> str:
    import httpx

    payload = {"text": f"*{message.subject}*\n{message.text}", "key": key, "subject": message.subject,
               "recipients": list(message.recipients), **message.data}
    body = json.dumps(payload, default=str, sort_keys=True).encode()
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "Idempotency-Key": key, TIMESTAMP_HEADER: stamp,
               "User-Agent": "weir-alerts", **dict(route.headers)}
    if route.secret_env:
        secret = os.environ.get(route.secret_env)
        if not secret:
            raise DeliveryError(f"route {route.name}: environment variable {route.secret_env} (the signing secret) "
                                "is not set")
        headers[SIGNATURE_HEADER] = sign(secret, stamp, body)
    assert route.url is not None
    try:
        response = httpx.post(route.url, content=body, headers=headers, timeout=route.timeout)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{route.url}: {type(exc).__name__}: {exc}") from None
    if response.is_success:
        return f"{route.url} ({response.status_code})"
    wait = retry_after(response.headers.get("Retry-After"))
    # a request the endpoint rejects will be rejected again: only timeouts, throttling and server errors retry
    permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 409, 425, 429)
    raise DeliveryError(f"{route.url} answered {response.status_code} {response.reason_phrase}".rstrip(),
                        permanent=permanent, retry_after=wait)


def _email(route: Route, message: Message, key: str) -> str:
    if not message.recipients:
        raise DeliveryError(f"route {route.name}: nobody to write to (set to = [...] on the route, or owners)",
                            permanent=True)
    mail = EmailMessage()
    mail["From"] = route.sender
    mail["To"] = ", ".join(message.recipients)
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(datetime_now())
    domain = route.sender.rpartition("@")[2] or "weir"
    mail["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"
    mail["X-Weir-Key"] = key
    mail.set_content(message.text)
    try:
        with smtplib.SMTP(route.smtp_host, route.smtp_port, timeout=route.timeout) as smtp:
            if route.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if route.username:
                password = os.environ.get(route.password_env or "")
                if password is None:
                    raise DeliveryError(f"route {route.name}: environment variable {route.password_env} "
                                        "(the SMTP password) is not set")
                smtp.login(route.username, password)
            refused = smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"{route.smtp_host}:{route.smtp_port} refused every recipient: "
                            f"{', '.join(exc.recipients)}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"smtp://{route.smtp_host}:{route.smtp_port}: {type(exc).__name__}: {exc}") from None
    taken = [r for r in message.recipients if r not in refused]
    return f"smtp://{route.smtp_host}:{route.smtp_port} to {', '.join(taken)}"


def _file(route: Route, message: Message, key: str, root: Path) -> str:
    path = Path(route.path)
    path = path if path.is_absolute() else root / path
    if route.format == "text":  # a readable mailbox: one block per message
        to = f"to: {', '.join(message.recipients)}\n" if message.recipients else ""
        line = (f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} · {route.name} ({route.audience}) · {key}\n{to}"
                f"subject: {message.subject}\n\n{message.text}\n")
    else:
        line = json.dumps({"key": key, "at": time.time(), "route": route.name, "audience": route.audience,
                           **message.to_json()}, default=str, sort_keys=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:  # one write per line: a reader never sees half of one
            f.write(line + "\n")
    except OSError as exc:
        raise DeliveryError(f"{path}: {exc.strerror or exc}") from None
    return str(path)


def datetime_now() -> datetime:
    from datetime import UTC, datetime

    return datetime.now(UTC)
