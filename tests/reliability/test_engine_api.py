"""Issue 19, the API's hardening, against a real `tasker api` process: every bad request is a 4xx naming what to
fix, never a 500, and no error response echoes a large body back."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

pytestmark = pytest.mark.integration

LINEAR = {"namespace": "linear_workflow", "name": "mathematical_sequence", "version": "1.0.0"}
LIMIT = 1_048_576  # tasker api's default --max-body-bytes
PREFIX = b'{"namespace": "linear_workflow", "name": "mathematical_sequence", "version": "1.0.0", "context": '


@pytest.fixture(scope="module")
def api(module_dsn: str, engine_stack: Any) -> Iterator[str]:
    with engine_stack(module_dsn, workers=0, orchestrator=False) as stack:
        yield stack.api_url


def post(api: str, data: bytes, content_type: str | None = "application/json", **kw: Any) -> requests.Response:
    headers = {} if content_type is None else {"content-type": content_type}
    return requests.post(f"{api}/v1/tasks", data=data, headers=headers, timeout=30, **kw)


def body(**fields: Any) -> bytes:
    return json.dumps({**LINEAR, "context": {"even_number": 6}, **fields}).encode()


# ------------------------------------------------------------------------------------------------ idempotency


def test_a_key_reused_with_a_different_body_is_409_naming_the_key(api: str, module_dsn: str) -> None:
    key = f"idem-{uuid.uuid4()}"
    first = post(api, body(idempotency_key=key, priority=2, tags=["a"]))
    assert first.status_code == 201, first.text
    assert post(api, body(idempotency_key=key, tags=["a"], priority=2.0)).json() == first.json()  # same request
    for changed, named in [
        ({"context": {"even_number": 8}}, "context"),
        ({"context": {"even_number": True}}, "context"),  # true is not 1
        ({"priority": 3}, "priority"),
        ({"tags": []}, "tags"),
        ({"reason": "another"}, "reason"),
        ({"name": "diamond_pattern", "namespace": "diamond_workflow"}, "namespace/name/version"),
    ]:
        fields = {"idempotency_key": key, "priority": 2, "tags": ["a"], **changed}
        again = post(api, body(**fields))
        assert again.status_code == 409, (changed, again.text)
        detail = again.json()["detail"]
        assert f"idempotency key '{key}'" in detail and first.json()["task_uuid"] in detail and named in detail
    with psycopg.connect(module_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM tasks WHERE idempotency_key = %s", (key,)).fetchone() == (1,)


# ----------------------------------------------------------------------------------------------- content type


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/xml", "application/json; charset=latin-1"],
)
def test_a_body_not_declared_as_json_is_415(api: str, content_type: str | None) -> None:
    resp = post(api, body(), content_type)
    assert resp.status_code == 415, resp.text
    assert "Content-Type application/json" in resp.json()["detail"]


@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON; charset=UTF-8", "application/vnd.tasker+json"]
)
def test_json_media_types_are_accepted(api: str, content_type: str) -> None:
    assert post(api, body(), content_type).status_code == 201


# --------------------------------------------------------------------------------------------------- body size


def test_a_body_over_the_limit_is_413(api: str) -> None:
    large = body(reason="x" * LIMIT)
    resp = post(api, large)
    assert resp.status_code == 413 and f"larger than {LIMIT} bytes" in resp.json()["detail"]
    assert post(api, body(reason="x" * 2000)).status_code == 201  # (reason is limited to 2,000 characters)


def test_a_chunked_body_over_the_limit_is_413_without_reading_it_all(api: str) -> None:
    """No Content-Length: the size is counted while the body arrives."""
    chunk = b" " * 65536

    def chunks() -> Iterator[bytes]:
        yield b'{"reason": "'
        for _ in range(LIMIT // len(chunk) + 2):
            yield chunk

    resp = requests.post(f"{api}/v1/tasks", data=chunks(), headers={"content-type": "application/json"}, timeout=30)
    assert resp.status_code == 413, resp.text


def test_a_declared_length_over_the_limit_is_413_before_the_body(api: str) -> None:
    host, port = urlsplit(api).hostname, urlsplit(api).port
    assert host is not None and port is not None
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (LIMIT + 1)
        )
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413"), reply


# ---------------------------------------------------------------------------------------- malformed, 422s


@pytest.mark.parametrize(
    "raw",
    [
        PREFIX + b'{"x": "\xff"}}',
        PREFIX + b'{"\xc3": 1}}',
        b"\xff\xfe{}",
        b'{"context": {"x": "\\ud800"}}',
    ],
    ids=["value", "key", "bom", "lone-surrogate"],
)
def test_invalid_utf8_is_422(api: str, raw: bytes) -> None:
    resp = post(api, raw)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"context": {}, "reason": "x" * 500_000}).encode(),  # missing fields: pydantic's input is the body
        json.dumps({**LINEAR, "context": {}, "x" * 500_000: 1}).encode(),  # an unknown field with a huge name
        b'{"context": "' + b"y" * 500_000,  # invalid JSON: pydantic's input is the whole text
        json.dumps({**LINEAR, "context": {}, "name": "n" * 500_000}).encode(),  # string_too_long
    ],
    ids=["missing-fields", "huge-unknown-field", "invalid-json", "huge-field-value"],
)
def test_a_422_never_echoes_a_large_body(api: str, raw: bytes) -> None:
    resp = post(api, raw)
    assert resp.status_code == 422, resp.text
    assert len(resp.content) < 2000, f"{len(resp.content)} bytes: {resp.text[:300]}"
    for item in resp.json()["detail"]:
        assert {"type", "loc", "msg"} <= item.keys()


def test_a_short_offending_value_is_still_echoed(api: str) -> None:
    resp = post(api, body(priority="high"))
    assert resp.status_code == 422
    (item,) = resp.json()["detail"]
    assert item["loc"] == ["body", "priority"] and item["input"] == "high"


@pytest.mark.parametrize("value", [True, "3", None])
def test_priority_is_a_json_integer(api: str, value: object) -> None:
    resp = post(api, body(priority=value))
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "priority"]


def test_numbers_the_api_cannot_parse_or_store_are_422(api: str) -> None:
    huge = PREFIX + b'{"n": '
    assert post(api, huge + b"1" * 5000 + b"}}").status_code == 422  # past the JSON parser's 4,300 digits
    assert post(api, huge + b"1e400}}").status_code == 422  # infinity: not a JSON number jsonb takes
    assert post(api, huge + b"NaN}}").status_code == 422


# -------------------------------------------------------------------------------------------------- OpenAPI


def test_openapi_documents_every_endpoint_and_the_post_body(api: str) -> None:
    spec = requests.get(f"{api}/openapi.json", timeout=10).json()
    assert {(path, method) for path, item in spec["paths"].items() for method in item} == {
        ("/v1/tasks", "post"),
        ("/v1/tasks/{task_uuid}", "get"),
        ("/health", "get"),
        ("/health/ready", "get"),
    }
    post_op = spec["paths"]["/v1/tasks"]["post"]
    schema = post_op["requestBody"]["content"]["application/json"]["schema"]
    assert post_op["requestBody"]["required"] is True
    assert set(schema["required"]) == {"name", "namespace", "version", "context"}
    assert schema["additionalProperties"] is False
    assert {"201", "200", "404", "409", "413", "415", "422"} <= post_op["responses"].keys()
