"""Secrets kept out of everything the harness prints or writes: DSNs reduced, password-looking text found or masked.

Pure text functions; the store refuses to write what `find_secret_in` finds, and messages pass `redact_secrets`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# `password=...`, `"password": "..."` and `scheme://user:secret@host` all count as a leaked secret.
_SECRET_PATTERNS = (
    re.compile(r"password\s*=\s*[^\s&'\"]", re.IGNORECASE),
    re.compile(r"\"password\"\s*:\s*\"[^\"]+\"", re.IGNORECASE),
    re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@\"']+:[^@\s/\"']+@", re.IGNORECASE),
)
_SECRET_KEYS = {"password", "passwd", "pgpassword"}


def redact_dsn(dsn: str | None) -> str | None:
    """`postgresql://user@host:port/db`: the DSN without any password, in URL or key=value form."""
    if dsn is None:
        return None
    text = dsn.strip()
    if "://" in text:
        parts = urlsplit(text)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, hostport = netloc.rsplit("@", 1)
            netloc = f"{userinfo.split(':', 1)[0]}@{hostport}"
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"])
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    pairs: dict[str, str] = dict(re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", text))
    if not pairs:
        return "<unparsable dsn>"
    user = pairs.get("user", "").strip("'")
    host = pairs.get("host", pairs.get("hostaddr", "")).strip("'")
    port = pairs.get("port", "").strip("'")
    db = pairs.get("dbname", "").strip("'")
    auth = f"{user}@" if user else ""
    return f"postgresql://{auth}{host}{':' + port if port else ''}/{db}"


def find_secret(text: str) -> str | None:
    """The first password-looking fragment in `text` (shortened), or None."""
    for pattern in _SECRET_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(0)[:24]
    return None


def find_secret_in(data: Any) -> str | None:
    """Walk a JSON-like structure: a password-named key with a value, or a string that embeds a password."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = find_secret(item)
            if found:
                return found
        elif isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and key.lower() in _SECRET_KEYS and value:
                    return f"{key}: ..."
                stack.append(key)
                stack.append(value)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def redact_secrets(text: str) -> str:
    """`text` with password values replaced, for free-form messages such as error strings."""
    text = re.sub(r"(password\s*=\s*)('[^']*'|[^\s&'\"]+)", r"\1***", text, flags=re.IGNORECASE)
    text = re.sub(r"(\"password\"\s*:\s*\")[^\"]+", r"\1***", text, flags=re.IGNORECASE)
    return re.sub(r"([a-z][a-z0-9+.-]*://[^/\s:@\"']+):[^@\s/\"']+@", r"\1@", text, flags=re.IGNORECASE)


def redact_value(value: Any) -> Any:
    """`redact_secrets` over every string of a JSON-like structure."""
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value
