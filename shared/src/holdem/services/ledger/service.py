"""`LedgerService`: every ledger operation and view, each in its own database transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from holdem.ledger.accounts import AccountKind
from holdem.ports import IdempotentStatements
from holdem.ports.transaction import Transactions
from holdem.services.ledger import checks, operations, statements
from holdem.services.ledger.checks import AuditReport, ConservationReport
from holdem.services.ledger.posting import Posted, Standalone
from holdem.services.ledger.statements import Balances, StatementPage

__all__ = ["LedgerService"]


class LedgerService:
    """The ledger operations, each in its own database transaction (committed on return).

    An operation that is a single post runs as one autocommit statement (`Standalone`); the
    withdrawal finishes, which read the reservation first, open a transaction. Use the
    functions of `holdem.services.ledger` instead to post inside a transaction of your own.

    Args:
        transactions: each call begins a transaction (committed when its block ends), for the
            views, the checks and the operations that read before they post
            (`holdem.adapters.repositories.transaction.transactions`).
        statements: for the operations that are a single post (`Container.statements`).
    """

    def __init__(
        self,
        transactions: Transactions,
        statements: IdempotentStatements,
    ) -> None:
        self._transactions = transactions
        self._standalone = cast(AsyncSession, Standalone(statements))

    async def credit_deposit(
        self,
        *,
        key: str,
        user_id: int,
        amount: int,
        coin: str,
        crypto_amount: Decimal,
        rate_krw: Decimal,
        tx_hash: str,
        address: str,
        deposit_id: int | None = None,
        locked: int = 0,
    ) -> Posted:
        """See `operations.credit_deposit`."""
        return await operations.credit_deposit(
            self._standalone,
            key=key,
            user_id=user_id,
            amount=amount,
            coin=coin,
            crypto_amount=crypto_amount,
            rate_krw=rate_krw,
            tx_hash=tx_hash,
            address=address,
            deposit_id=deposit_id,
            locked=locked,
        )

    async def reserve_withdrawal(
        self,
        *,
        key: str,
        user_id: int,
        amount: int,
        coin: str,
        address: str,
        withdrawal_id: int | None = None,
        from_locked: int = 0,
    ) -> Posted:
        """See `operations.reserve_withdrawal`."""
        return await operations.reserve_withdrawal(
            self._standalone,
            key=key,
            user_id=user_id,
            amount=amount,
            coin=coin,
            address=address,
            withdrawal_id=withdrawal_id,
            from_locked=from_locked,
        )

    async def complete_withdrawal(
        self,
        *,
        key: str,
        reserve_transaction_id: int,
        crypto_amount: Decimal,
        rate_krw: Decimal,
        tx_hash: str,
    ) -> Posted:
        """See `operations.complete_withdrawal`."""
        async with self._transactions() as tx:
            return await operations.complete_withdrawal(
                tx,
                key=key,
                reserve_transaction_id=reserve_transaction_id,
                crypto_amount=crypto_amount,
                rate_krw=rate_krw,
                tx_hash=tx_hash,
            )

    async def return_withdrawal(
        self, *, key: str, reserve_transaction_id: int, reason: str
    ) -> Posted:
        """See `operations.return_withdrawal`."""
        async with self._transactions() as tx:
            return await operations.return_withdrawal(
                tx, key=key, reserve_transaction_id=reserve_transaction_id, reason=reason
            )

    async def release_locked(self, *, key: str, user_id: int, amount: int) -> Posted:
        """See `operations.release_locked`."""
        return await operations.release_locked(
            self._standalone, key=key, user_id=user_id, amount=amount
        )

    async def buy_in(self, *, key: str, user_id: int, table_id: int, amount: int) -> Posted:
        """See `operations.buy_in`."""
        return await operations.buy_in(
            self._standalone, key=key, user_id=user_id, table_id=table_id, amount=amount
        )

    async def cash_out(self, *, key: str, user_id: int, table_id: int, amount: int) -> Posted:
        """See `operations.cash_out`."""
        return await operations.cash_out(
            self._standalone, key=key, user_id=user_id, table_id=table_id, amount=amount
        )

    async def settle_hand(
        self,
        *,
        table_id: int,
        hand_id: int,
        fencing_token: int,
        nets: Mapping[int, int],
        rake: int,
        rake_shares: Mapping[int, int] | None = None,
    ) -> Posted:
        """See `operations.settle_hand`."""
        return await operations.settle_hand(
            self._standalone,
            table_id=table_id,
            hand_id=hand_id,
            fencing_token=fencing_token,
            nets=nets,
            rake=rake,
            rake_shares=rake_shares,
        )

    async def credit_rakeback(
        self,
        *,
        key: str,
        user_id: int,
        amount: int,
        week_start: date | None = None,
        rake_paid: int | None = None,
        level: str | None = None,
    ) -> Posted:
        """See `operations.credit_rakeback`."""
        return await operations.credit_rakeback(
            self._standalone,
            key=key,
            user_id=user_id,
            amount=amount,
            week_start=week_start,
            rake_paid=rake_paid,
            level=level,
        )

    async def adjust(
        self,
        *,
        key: str,
        user_id: int,
        amount: int,
        reason: str,
        operator_id: int,
        account: AccountKind = AccountKind.WALLET,
        table_id: int | None = None,
    ) -> Posted:
        """See `operations.adjust`."""
        return await operations.adjust(
            self._standalone,
            key=key,
            user_id=user_id,
            amount=amount,
            reason=reason,
            operator_id=operator_id,
            account=account,
            table_id=table_id,
        )

    async def balances(self, user_id: int) -> Balances:
        """See `statements.balances`."""
        async with self._transactions() as tx:
            return await statements.balances(tx.ledger, user_id)

    async def transactions(
        self, user_id: int, *, cursor: str | None = None, limit: int = 50, kind: str | None = None
    ) -> StatementPage:
        """See `statements.transactions`."""
        async with self._transactions() as tx:
            return await statements.transactions(
                tx.ledger, user_id, cursor=cursor, limit=limit, kind=kind
            )

    async def conservation_report(self) -> ConservationReport:
        """See `checks.conservation_report`."""
        async with self._transactions() as tx:
            return await checks.conservation_report(tx)

    async def verify_audit_chain(self) -> AuditReport:
        """See `checks.verify_audit_chain`."""
        async with self._transactions() as tx:
            return await checks.verify_audit_chain(tx)
