"""A table's game-time rules without I/O (`TableSession`), its typed commands and effects.

Pure like `holdem.engine` (which it drives): no asyncio, Redis, SQLAlchemy, wall clock or
global random (`tests/unit/test_architecture.py` checks its imports). The table servers run
one session per owned table (`edge.table_actor.TableActor`).
"""

from holdem.session.table_session import TableSession, TableTimes

__all__ = ["TableSession", "TableTimes"]
