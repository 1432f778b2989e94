"""The channels' HTTP client (notifications/channels/http.py) against a real server on loopback: requests
spread over several small keep-alive pools, and a refused connection is a transient error that does not
repeat the URL (a bot key or token may be in it)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from models.core import TransientDeliveryError
from notifications.channels.http import PooledClient, post_classified


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one client connection serves many requests
    peers: list[int] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).peers.append(self.client_address[1])
        body = b'{"id": "x"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.peers = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/sms"
    httpd.shutdown()
    httpd.server_close()


def test_requests_take_the_pools_in_turn_and_keep_their_connections(server: str) -> None:
    async def run() -> None:
        client = PooledClient(timeout=5, pools=3, per_pool=1)
        try:
            for _ in range(9):
                response = await post_classified(client, server, "test gateway", json={"n": 1})
                assert response.json() == {"id": "x"}
        finally:
            await client.aclose()

    asyncio.run(run())
    # Three pools of one connection each: three connections, each used for every third request.
    peers = _Handler.peers
    assert len(peers) == 9 and len(set(peers)) == 3
    assert peers[:3] == peers[3:6] == peers[6:]


def test_a_refused_connection_is_transient_and_the_error_does_not_carry_the_url() -> None:
    async def run() -> None:
        client = PooledClient(timeout=2)
        try:
            await post_classified(client, "http://127.0.0.1:9/hook?key=SECRET-KEY", "group bot", json={})
        finally:
            await client.aclose()

    with pytest.raises(TransientDeliveryError) as raised:
        asyncio.run(run())
    assert "group bot unreachable" in str(raised.value) and "SECRET" not in str(raised.value)
