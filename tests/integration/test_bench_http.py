"""The benches' HTTP client against a real HTTP server on loopback: JSON round trip, keep-alive, clear errors."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from baseline.benches.common import BenchError
from baseline.benches.http import HttpClient


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


def test_unreachable_api_is_a_bench_error_naming_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    with HttpClient(f"http://127.0.0.1:{port}", timeout_s=2) as client, pytest.raises(BenchError) as info:
        client.get("/health")
    assert f"GET http://127.0.0.1:{port}/health failed" in str(info.value)


def test_bad_base_url_says_what_is_expected() -> None:
    with pytest.raises(ValueError, match="expected http://host:port"):
        HttpClient("127.0.0.1:8000")
