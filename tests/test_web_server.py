"""How `hrss serve` runs uvicorn: httptools and uvloop, TCP_NODELAY on every connection,
no access log."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hrss.settings import Settings
from hrss.web.server import SERVER_OPTIONS, server_options


async def _loop_name(request: Request) -> PlainTextResponse:
    return PlainTextResponse(type(asyncio.get_running_loop()).__module__)


def _response(client: socket.socket) -> tuple[bytes, bytes]:
    """(head, body) of one response: with TCP_NODELAY the body may come in a segment of its own."""
    client.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(1024)
        assert chunk, data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        chunk = client.recv(1024)
        assert chunk, body
        body += chunk
    return head, body


def test_connections_on_a_socket_bound_by_uvicorn_get_tcp_nodelay() -> None:
    """With --workers N uvicorn binds the socket itself (Config.bind_socket, proto 0) and
    asyncio then leaves Nagle's algorithm on: each keep-alive response would wait ~40 ms
    for the client's delayed ACK (uvicorn issue #3149). The protocol sets it itself. The
    server runs on uvloop, with httptools' parser."""
    app = Starlette(routes=[Route("/", _loop_name)])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, **SERVER_OPTIONS)  # type: ignore[arg-type]
    sock = config.bind_socket()  # the multi-worker path
    assert sock.proto == 0
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        with socket.create_connection(sock.getsockname()[:2]) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            head, body = _response(client)
            assert head.startswith(b"HTTP/1.1 200") and body == uvloop.Loop.__module__.encode()
            [connection] = list(server.server_state.connections)
            assert type(connection).__module__ == "hrss.web.server"
            assert "httptools" in type(connection).__mro__[1].__module__
            accepted = connection.transport.get_extra_info("socket")  # type: ignore[union-attr]
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert config.access_log is False


async def _client_host(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.client.host if request.client else "")


def _seen_address(trusted: str) -> str:
    """The client address the app sees for a request from 127.0.0.1 claiming X-Forwarded-For: 203.0.113.9."""
    app = Starlette(routes=[Route("/", _client_host)])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, **server_options(Settings(trusted_proxies=trusted)))  # type: ignore[arg-type]
    sock = config.bind_socket()
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        with socket.create_connection(sock.getsockname()[:2]) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n")
            return _response(client)[1].decode()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_forwarded_for_is_believed_only_from_configured_proxies() -> None:
    # uvicorn's own default believes any proxy on 127.0.0.1: anyone local could write the audit log's address
    assert _seen_address("") == "127.0.0.1"
    assert _seen_address("10.0.0.5") == "127.0.0.1"  # a proxy elsewhere is not this connection
    assert _seen_address("10.0.0.5, 127.0.0.1") == "203.0.113.9"
