"""How `hrss serve` runs the app under uvicorn: every server setting in one place.

- TCP_NODELAY on every connection. With `--workers N` uvicorn binds the listening socket
  itself, leaving its `proto` at 0; asyncio then skips TCP_NODELAY on accepted sockets
  (it checks `proto == IPPROTO_TCP`), so on a keep-alive connection the body, written
  after the headers, waits for the client's delayed ACK: about 40 ms per request on
  Linux (uvicorn issue #3149, open for 0.54). `NoDelayHTTPProtocol` sets it itself.
- No access log: request lines name people and org units (paths, query strings), and
  under load the log costs time. Errors still go to the log at level warning.
- Forwarded headers are believed only from `HRSS_TRUSTED_PROXIES` (uvicorn's own default
  believes any local address), so the audit log records who really connected.
- httptools (C HTTP parser) and uvloop (libuv event loop), both dependencies of HRSS: what
  uvicorn picks when they are installed, named here so that a missing one fails at start
  instead of silently serving a third slower (h11 and asyncio's loop, docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hrss.settings import Settings


class NoDelayHTTPProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, with Nagle's algorithm off on every TCP connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


SERVER_OPTIONS = {
    "http": NoDelayHTTPProtocol,
    "loop": "uvloop",
    "access_log": False,
    "log_level": "warning",
    "server_header": False,
}


def server_options(settings: Settings) -> dict[str, object]:
    """SERVER_OPTIONS with the proxies settings trust (none unless configured)."""
    trusted = ",".join(p.strip() for p in settings.trusted_proxies.split(",") if p.strip())
    return {**SERVER_OPTIONS, "proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or ""}


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Run the platform; with workers > 1 each process builds its own app from the same
    HRSS_* environment (uvicorn imports the factory in every worker)."""
    options = server_options(settings)
    if workers > 1:
        uvicorn.run("hrss.web.app:create_app", factory=True, host=host, port=port, workers=workers, **options)  # type: ignore[arg-type]
    else:
        from hrss.web.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, **options)  # type: ignore[arg-type]
