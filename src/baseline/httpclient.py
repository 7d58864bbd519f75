"""The harness's HTTP client for timed requests: one keep-alive connection, each request written in one piece,
responses parsed by httptools (llhttp, the parser uvicorn itself uses).

The timed region is meant to hold the operation, not the client: a client library's own CPU is inside every sample,
and urllib3, http.client and requests all spend several times this module's CPU per request (docs/findings/harness.md).
No maintained Python client has a lean keep-alive path, so the framing is written here; parsing is left to
httptools. Requests also go out as one segment (urllib3 and http.client write headers and body apart, and the
server may wake twice).
Proxy and netrc settings of the environment play no part either: a bench talks to its own stack.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httptools

from baseline.errors import Failure


class HttpError(Failure):
    """A request could not be made or answered (connection refused, reset, timed out, a malformed response)."""


@dataclass(frozen=True)
class HttpResponse:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)  # not orjson: results may hold integers of any size


class _Response:
    """httptools callbacks: whether the connection stays open (llhttp knows it once the headers are in), the body,
    the end of the message."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.keep_alive = False
        self.body: list[bytes] = []
        self.complete = False

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class HttpClient:
    """GET and JSON POST against one base URL; a context manager that closes its connection."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"api url {base_url!r}: expected http://host:port")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        self.base_path = parts.path.rstrip("/")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.timeout_s = timeout_s
        self.sock: socket.socket | None = None
        self._headers = f"Host: {parts.netloc}\r\nAccept: application/json\r\n".encode()

    def get(self, path: str) -> HttpResponse:
        return self._request("GET", path, None)

    def post_json(self, path: str, payload: Any) -> HttpResponse:
        return self._request("POST", path, json.dumps(payload).encode())

    def _request(self, method: str, path: str, body: bytes | None) -> HttpResponse:
        try:
            sock = self._connected()
            sock.sendall(request_bytes(method, self.base_path + path, self._headers, body))
            response = _Response()
            while not response.complete:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("the server closed the connection before the response ended")
                response.parser.feed_data(data)
            if not response.keep_alive:
                self.close()
        except (OSError, httptools.HttpParserError) as exc:  # refused, reset, timeout, garbage: the API is gone
            self.close()
            raise HttpError(f"{method} {self.origin}{self.base_path}{path} failed: {exc!r}") from None
        return HttpResponse(response.parser.get_status_code(), b"".join(response.body))

    def _connected(self) -> socket.socket:
        if self.sock is not None and _closed_by_peer(self.sock):  # e.g. the server's keep-alive timeout ran out
            self.close()
        if self.sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host) if self.tls else sock
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request_bytes(method: str, target: str, headers: bytes, body: bytes | None) -> bytes:
    """A whole HTTP/1.1 request, to be written at once; `headers` are complete lines (Host first)."""
    head = f"{method} {target} HTTP/1.1\r\n".encode() + headers
    if body is not None:
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return head + b"\r\n" + (body or b"")


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle keep-alive socket that polls readable has been closed (or broken) by the server."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
