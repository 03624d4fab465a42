"""The WebSocket table server (one process of the fleet). Run it with ``python -m edge``."""
