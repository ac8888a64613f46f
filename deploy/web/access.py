"""Who may open the robot's page and socket: a per-run token, served host names, allowed origins.

The web page can move a robot, so it is locked to its operator the way Jupyter locks a notebook server:
- a token (random per run by default, printed inside the URL `bcz run` shows) on the page and socket;
- the HTTP side answers only requests whose `Host` is this machine's loopback name or a configured
  name, so a foreign site cannot reach it through DNS rebinding;
- the WebSocket accepts only the page's own origin (or an allow-list), since browsers do not apply
  CORS to WebSockets and any page the operator visits could otherwise open one (cross-site WebSocket
  hijacking). Clients that send no `Origin` (scripts, not browsers) still need the token.
"""

from __future__ import annotations

import errno
import ipaddress
import secrets
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an IP address) stays on this machine: localhost or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(netloc: str) -> str:
    """'127.0.0.1:8000' -> '127.0.0.1', '[::1]:8000' -> '::1', 'Example.org' -> 'example.org'."""
    return (urlsplit(f"//{netloc}").hostname or "").lower()


@dataclass
class WebAccess:
    """What the page's server admits: the token, the Host names served and the extra allowed origins."""

    token: str | None  # None: no token (loopback only)
    hosts: set[str] = field(default_factory=lambda: set(LOOPBACK_NAMES))  # Host names served
    origins: set[str] = field(default_factory=set)  # origins allowed besides the page's own

    def token_ok(self, given: str | None) -> bool:
        """Whether `given` is the token (compared in constant time); anything passes without one."""
        return self.token is None or (given is not None and secrets.compare_digest(given, self.token))

    def host_ok(self, host_header: str | None) -> bool:
        """Whether the request's Host header names a served host (DNS rebinding defence)."""
        return host_header is not None and host_name(host_header) in self.hosts

    def origin_ok(self, origin: str | None, host_header: str | None) -> bool:
        """The page's own origin (same host and port as the request), an allowed one, or none at all."""
        if origin is None:
            return True  # not a browser: the token decides
        if origin.rstrip("/") in self.origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and host_header is not None and parts.netloc == host_header


def web_access(host: str, token: str, hosts: list[str], origins: list[str]) -> WebAccess:
    """The access rule for listening on `host`; ValueError naming the setting that is missing."""
    if token in ("", "off", "none", "null"):
        if not is_loopback(host):
            raise ValueError(
                f"web_token=off on host={host} would let anyone on the network drive the robot; "
                "keep a token (web_token=auto, the default) or host=127.0.0.1"
            )
        resolved = None
    else:
        resolved = secrets.token_urlsafe(16) if token == "auto" else token
    served = set(LOOPBACK_NAMES) | {h.lower() for h in hosts}
    if host in WILDCARDS:
        if not hosts:
            raise ValueError(
                f"host={host or '*'} listens on every interface: name the host names clients will use, "
                "e.g. web_hosts=[robot.lab,192.168.1.20]"
            )
    else:
        served.add(host.lower())
    bad = [o for o in origins if urlsplit(o).scheme not in ("http", "https") or not urlsplit(o).netloc]
    if bad:
        raise ValueError(f"web_origins={bad}: each must be an origin like http://host:port")
    return WebAccess(resolved, served, {o.rstrip("/") for o in origins})


def check_port_free(host: str, port: int) -> None:
    """OSError in one line when another process (another robot's page?) already listens on the port."""
    if not 0 < port < 65536:
        raise ValueError(f"port={port}: must be between 1 and 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind((host or "0.0.0.0", port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise OSError(
                    f"port {port} on {host} is already in use (another bcz run?); choose another with "
                    f"port={port + 1}"
                ) from None
            raise OSError(f"cannot listen on {host}:{port}: {e.strerror}") from None
