"""Prometheus metrics of one table server, served on their own port (``--metrics-port``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

SERVER_FAULTS = frozenset(
    ("internal_error", "table_unavailable", "lobby_unavailable", "server_busy", "server_full")
)
"""Error codes that mean the service failed the client; every other code is the client's
mistake (bad input, out of turn, not seated...). Only these count towards the error-rate
alerts (ops/prometheus/alerts.yml): a client probing with bad messages must not page anyone."""


class Metrics:
    """The server's instruments, in a registry of their own (tests run several servers)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("edge_connections", "Open WebSocket connections", registry=r)
        self.tables = Gauge("edge_tables_owned", "Tables this server runs", registry=r)
        self.hands = Counter("edge_hands_completed", "Hands completed", registry=r)
        self.messages_in = Counter(
            "edge_messages_received", "Client messages", ["type"], registry=r
        )
        self.errors = Counter(
            "edge_errors", "Errors sent to clients", ["code", "fault"], registry=r
        )
        self.action_latency = Histogram(
            "edge_action_latency_seconds",
            "From a command entering the owner's inbox to its events being published",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.redis_latency = Histogram(
            "edge_redis_checkpoint_seconds",
            "Checkpoint write latency",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.postgres_latency = Histogram(
            "edge_postgres_settlement_seconds",
            "Hand settlement transaction latency",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.settlement_failures = Counter(
            "edge_settlement_failures", "Settlements left in the outbox for retry", registry=r
        )
        self.takeovers = Counter("edge_takeovers", "Tables taken over", registry=r)
        self.gc_pauses = Histogram(
            "edge_gc_pause_seconds",
            "The cycle collector's pauses (the whole server waits), by generation",
            ["generation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def gc_paused(self, generation: int, seconds: float) -> None:
        """Count one of the cycle collector's pauses (`holdem.heap.observe_pauses`)."""
        self.gc_pauses.labels(str(generation)).observe(seconds)

    def count_error(self, code: str) -> None:
        """Count an error sent to a client, labelled ``fault="server"`` or ``"client"``."""
        self.errors.labels(code, "server" if code in SERVER_FAULTS else "client").inc()

    def serve(self, host: str, port: int) -> int:
        """Start the scrape endpoint; returns the bound port (0 picks a free one)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        bound: int = server.server_port
        return bound
