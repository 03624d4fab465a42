"""`free_port` hands out loopback ports that no outgoing connection can take before the child
process that was given one binds it."""

from __future__ import annotations

import socket
from pathlib import Path

from devstack.services import free_port


def _ephemeral_range() -> range:
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    return range(low, high + 1)


def test_ports_lie_outside_the_kernels_ephemeral_range_and_are_never_handed_out_twice() -> None:
    ports = [free_port() for _ in range(50)]

    assert not set(ports) & set(_ephemeral_range())
    assert len(set(ports)) == len(ports)
    assert all(1024 <= port < 65536 for port in ports)


def test_a_port_something_is_bound_to_is_never_handed_out() -> None:
    taken = []
    try:
        for _ in range(20):
            port = free_port()
            sock = socket.socket()
            sock.bind(("127.0.0.1", port))
            taken.append(sock)
        ports = {free_port() for _ in range(20)}
        assert not ports & {sock.getsockname()[1] for sock in taken}
    finally:
        for sock in taken:
            sock.close()
