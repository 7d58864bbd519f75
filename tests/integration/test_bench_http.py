"""The benches' HTTP client against real servers on loopback: JSON round trip, keep-alive, one segment per request,
reconnecting after the server closed an idle connection, clear errors."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from baseline.httpclient import HttpClient, HttpError


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the API serves it

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/api/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"parts": [1, ', b"2, 3]}"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/api/close":
            self.close_connection = True
            data = b'{"closing": true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        else:
            self._reply(200 if self.path == "/api/health" else 404, {"path": self.path, "port": self.client_address[1]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._reply(201, {"got": body, "type": self.headers["Content-Type"], "port": self.client_address[1]})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/api"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_json_round_trip_over_one_kept_alive_connection(server: str) -> None:
    with HttpClient(server) as client:
        created = client.post_json("/v1/tasks", {"name": "x", "context": {"n": 6}})
        health = client.get("/health")
        missing = client.get("/nope")
    assert created.status_code == 201
    assert created.json()["got"] == {"name": "x", "context": {"n": 6}}
    assert created.json()["type"] == "application/json"
    assert health.status_code == 200 and health.json()["path"] == "/api/health"
    assert missing.status_code == 404 and '"/api/nope"' in missing.text
    assert created.json()["port"] == health.json()["port"] == missing.json()["port"]  # the same connection


def test_a_request_is_built_whole_for_one_write() -> None:
    from baseline.httpclient import request_bytes

    body = json.dumps({"name": "x"}).encode()
    wire = request_bytes("POST", "/api/v1/tasks", b"Host: h:1\r\nAccept: application/json\r\n", body)
    head, _, rest = wire.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /api/v1/tasks HTTP/1.1" and lines[1] == b"Host: h:1"
    assert b"Content-Length: %d" % len(body) in lines and b"Content-Type: application/json" in lines
    assert rest == body
    assert request_bytes("GET", "/health", b"Host: h:1\r\n", None) == b"GET /health HTTP/1.1\r\nHost: h:1\r\n\r\n"


def test_chunked_and_connection_close_responses(server: str) -> None:
    """Whatever framing the server picks is read to its end; a server that closes is connected to again."""
    with HttpClient(server) as client:
        chunked = client.get("/chunked")
        closing = client.get("/close")
        assert client.sock is None  # the server said it closes
        after = client.get("/health")
    assert chunked.status_code == 200 and chunked.json() == {"parts": [1, 2, 3]}
    assert closing.status_code == 200 and closing.json() == {"closing": True}
    assert after.status_code == 200 and after.json()["port"] != closing.json().get("port")


def test_reconnects_when_the_server_closed_the_idle_connection(server: str) -> None:
    with HttpClient(server) as client:
        first = client.get("/health").json()["port"]
        client.sock.shutdown(socket.SHUT_RDWR)  # what the server's keep-alive timeout does, seen from here
        again = client.post_json("/v1/tasks", {"n": 1})
    assert again.status_code == 201 and again.json()["got"] == {"n": 1}
    assert again.json()["port"] != first  # a new connection


def test_unreachable_api_is_a_bench_error_naming_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    with HttpClient(f"http://127.0.0.1:{port}", timeout_s=2) as client, pytest.raises(HttpError) as info:
        client.get("/health")
    assert f"GET http://127.0.0.1:{port}/health failed" in str(info.value)


def test_bad_base_url_says_what_is_expected() -> None:
    with pytest.raises(ValueError, match="expected http://host:port"):
        HttpClient("127.0.0.1:8000")
