"""The benches' HTTP client: one keep-alive connection over urllib3, the transport requests itself uses.

Why not requests.Session in the timed region: its per-call request preparation (settings merge, hooks, cookie jar,
header checks) cost 1.8 ms of a 4.8 ms POST /v1/tasks on the 2-core VM, measured side by side with a bare
http.client loop, so more than a third of each sample was the client library. The timed region is meant to hold
only the operation; urllib3 adds ~0.1 ms over http.client. Proxy and netrc settings of the environment play no
part either: a bench talks to its own stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3

from baseline.benches.common import BenchError

_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


@dataclass(frozen=True)
class HttpResponse:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class HttpClient:
    """GET and JSON POST against one base URL; a context manager that closes its connection."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"api url {base_url!r}: expected http://host:port")
        pool_class = urllib3.HTTPSConnectionPool if parts.scheme == "https" else urllib3.HTTPConnectionPool
        self.base_path = parts.path.rstrip("/")
        self.pool = pool_class(
            parts.hostname, parts.port, maxsize=1, retries=False, timeout=urllib3.Timeout(total=timeout_s)
        )

    def get(self, path: str) -> HttpResponse:
        return self._request("GET", path, None, None)

    def post_json(self, path: str, payload: Any) -> HttpResponse:
        return self._request("POST", path, json.dumps(payload).encode(), _JSON_HEADERS)

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str] | None) -> HttpResponse:
        try:
            response = self.pool.request(method, self.base_path + path, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:  # connection refused or reset, timeout: the API is gone
            where = f"{self.pool.scheme}://{self.pool.host}:{self.pool.port}{self.base_path}{path}"
            raise BenchError(f"{method} {where} failed: {exc}") from None
        return HttpResponse(response.status, response.data)

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
