"""What players and operators read of deposits."""

from __future__ import annotations

from holdem.ports.payments import DepositRow
from holdem.services.deposits.notices import DepositDeps


async def list_deposits(
    deps: DepositDeps, user_id: int, *, limit: int = 50, before_id: int | None = None
) -> list[DepositRow]:
    """A user's deposits, newest first, including pending ones (cursor: the last id seen)."""
    async with deps.uow() as uow:
        return list(await uow.deposits.of_user(user_id, limit, before_id))


async def unmatched_deposits(deps: DepositDeps, *, limit: int = 100) -> list[DepositRow]:
    """Deposits to addresses we never issued, for operator review."""
    async with deps.uow() as uow:
        return list(await uow.deposits.with_status("unmatched", limit))


async def over_limit_deposits(deps: DepositDeps, *, limit: int = 100) -> list[DepositRow]:
    """Deposits worth more than one ledger movement may carry, for operator review."""
    async with deps.uow() as uow:
        return list(await uow.deposits.with_status("over_limit", limit))
