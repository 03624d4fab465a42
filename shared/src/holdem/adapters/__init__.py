"""Adapters: PostgreSQL (SQLAlchemy), Redis, HTTP providers and AWS clients."""
