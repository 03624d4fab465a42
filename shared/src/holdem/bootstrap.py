"""Composition root: the one place that builds adapters, each when first asked.

Every process gets its adapters from a `Container`: the Lambda handlers and the REST API
through `process_container()` (one per execution environment, built on the first invocation
and kept for its life), the table servers, the admin CLI and ``./dev`` through `bootstrap()`
at start-up. Nothing here runs at import, and building the container opens no connection:
each adapter (engine, pools, Redis, boto3 clients, the gateway, the notifier, ...) is built
on its first use (`functools.cached_property`), so a function pays only for what it uses at
cold start. Error tracking starts here too, so every process that builds its adapters
reports its errors (Sentry, on only when ``SENTRY_DSN`` is set).

Tests replace an adapter with a fake or a real test server by assigning it before its first
use (``container.gateway = NowPaymentsGateway(..., transport=...)``); whatever is built from
it (the payment use cases' dependencies, say) then uses the replacement.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from holdem.adapters.archive_store import S3ArchiveStore
from holdem.adapters.audit_relay import AuditRelay
from holdem.adapters.chat_store import ChatStore
from holdem.adapters.database import DatabaseLogin, create_engine, session_factory
from holdem.adapters.rakeback_queue import SqsRakebackQueue
from holdem.adapters.rate_limit import RateLimiter, ScriptConnections
from holdem.adapters.redis_client import create_redis, create_sync_redis
from holdem.adapters.relay import Relay
from holdem.adapters.repositories.accounts import RawRefreshRotation
from holdem.adapters.repositories.table_money import RawSettlements
from holdem.adapters.repositories.transaction import open_transactions, transactions
from holdem.adapters.secret_refs import resolve_secret_references
from holdem.adapters.sqs import message_sender, withdrawal_enqueuer
from holdem.adapters.statement_pool import StatementPool, create_statement_pool
from holdem.auth.passwords import PasswordService
from holdem.config import Settings, get_settings
from holdem.observability.sentry import init_sentry
from holdem.ports.table_money import Settlements
from holdem.ports.transaction import Transactions
from holdem.services.accounts import Accounts
from holdem.services.ledger import LedgerService
from holdem.services.lobby import TablesCache
from holdem.services.notifications import Notifier

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.cache import (
        CachePersistenceLayer,
    )
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient

    from holdem.adapters.rates import RateService
    from holdem.payments.coins import CoinRegistry
    from holdem.ports.payments import KycProvider, PaymentGateway, UnitOfWork
    from holdem.ports.transaction import Transactions
    from holdem.services.deposits import DepositDeps
    from holdem.services.kyc import KycDeps
    from holdem.services.withdrawals import WithdrawalDeps


class Container:
    """The adapters of one process, each built on first use and then shared.

    Args:
        settings: What to connect to and how; read once per process.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # --- PostgreSQL ------------------------------------------------------------------------

    @cached_property
    def _login(self) -> DatabaseLogin:
        # One login for both pools: a password re-read after a rotation serves them both.
        return DatabaseLogin.of(self.settings)

    @cached_property
    def engine(self) -> AsyncEngine:
        """The asyncio engine (pooled; NullPool-like sizing in a Lambda, SPEC §7)."""
        return create_engine(self.settings, self._login)

    @cached_property
    def sessions(self) -> async_sessionmaker[Any]:
        """ORM sessions on `engine`."""
        return session_factory(self.engine)

    @cached_property
    def read_engine(self) -> AsyncEngine:
        """`engine` in autocommit: each query of a read-only route is one round trip (no
        BEGIN and ROLLBACK around it). Shares the engine's pool."""
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @cached_property
    def statements(self) -> StatementPool:
        """Raw connections for the ledger's one-statement posts (`LedgerService`) and the
        table servers' settlements (`settlements`)."""
        return create_statement_pool(self.settings, self._login)

    @cached_property
    def ledger(self) -> LedgerService:
        """The ledger's operations, views and checks, each in its own transaction."""
        return LedgerService(self.transactions, self.statements)

    @cached_property
    def reads(self) -> StatementPool:
        """Raw connections for the REST API's hot column reads (`StatementPool.reader`) and
        its refresh rotation (`holdem.adapters.repositories.accounts.RawRefreshRotation`)."""
        return create_statement_pool(self.settings, self._login, kept_in_lambda=1)

    @cached_property
    def settlements(self) -> Settlements:
        """The table servers' settlements (one statement per hand), on `statements`' raw
        connections."""
        return RawSettlements(self.statements)

    # --- Redis -----------------------------------------------------------------------------

    @cached_property
    def redis(self) -> Redis:
        """The asyncio client (a bounded, blocking pool)."""
        return create_redis(self.settings)

    @cached_property
    def relay(self) -> Relay:
        """Table commands and pub/sub messages to the table servers."""
        return Relay(self.redis)

    @cached_property
    def chat_store(self) -> ChatStore:
        """Players' chat mute lists and operators' timed chat mutes."""
        return ChatStore(self.redis)

    @cached_property
    def sync_redis(self) -> SyncRedis:
        """A blocking client, for libraries without asyncio (`idempotency`)."""
        return create_sync_redis(self.settings)

    @cached_property
    def idempotency(self) -> CachePersistenceLayer:
        """Powertools idempotency records in our Redis (the payout worker's SQS records)."""
        # Imported here: only the payout worker pays for importing it at cold start.
        from aws_lambda_powertools.utilities.idempotency.persistence.cache import (
            CachePersistenceLayer,
        )

        with warnings.catch_warnings():  # the class name warns; it is the same class
            warnings.simplefilter("ignore", DeprecationWarning)
            return CachePersistenceLayer(client=self.sync_redis)  # type: ignore[arg-type]

    # --- AWS (boto3 is blocking: callers run it in worker threads; clients are thread-safe)

    def _aws_client(self, service: str) -> Any:
        # Imported here: the table servers never talk to AWS and skip importing boto3.
        import boto3

        aws = self.settings.aws
        return boto3.client(service, region_name=aws.region, endpoint_url=aws.endpoint_url)  # type: ignore[call-overload]

    @cached_property
    def sqs(self) -> SQSClient:
        """The SQS client every queue of this process is sent to through."""
        client: SQSClient = self._aws_client("sqs")
        return client

    @cached_property
    def s3(self) -> S3Client:
        """The S3 client of the hand archive and the audit copies."""
        client: S3Client = self._aws_client("s3")
        return client

    @cached_property
    def ses(self) -> SESClient:
        """The SES client the notifier Lambda e-mails through."""
        client: SESClient = self._aws_client("ses")
        return client

    @cached_property
    def archive_store(self) -> S3ArchiveStore:
        """The hand archive bucket (``AWS__ARCHIVE_BUCKET``)."""
        return S3ArchiveStore(self.s3, self.settings.aws.archive_bucket)

    @cached_property
    def rakeback_queue(self) -> SqsRakebackQueue:
        """The rakeback settlement queue (``AWS__RAKEBACK_QUEUE_URL``, checked on send)."""
        return SqsRakebackQueue(self.sqs, self.settings.aws.rakeback_queue_url)

    @cached_property
    def audit_relay(self) -> AuditRelay:
        """The audit outbox relay: the Redis Stream and the audit bucket."""
        return AuditRelay(self.sessions, self.redis, self.s3, self.settings.aws.audit_bucket)

    @cached_property
    def notifier(self) -> Notifier:
        """Player notices: live through Redis, e-mail through the notification queue if set."""
        queue_url = self.settings.aws.notification_queue_url
        return Notifier(self.redis, message_sender(self.sqs, queue_url) if queue_url else None)

    @cached_property
    def payout_queue(self) -> Callable[[list[int]], Awaitable[None]] | None:
        """Puts withdrawals on the payout queue (``AWS__PAYOUT_QUEUE_URL``); None if unset."""
        queue_url = self.settings.aws.payout_queue_url
        return withdrawal_enqueuer(self.sqs, queue_url) if queue_url else None

    # --- payments (their modules are imported on first use: only the processes that move
    # crypto pay for importing the gateway, the rate providers and the address checks)

    @cached_property
    def coins(self) -> CoinRegistry:
        """The accepted coins."""
        from holdem.services.deposits import coin_registry

        return coin_registry(self.settings.money)

    @cached_property
    def gateway(self) -> PaymentGateway:
        """The crypto payment gateway (NOWPayments)."""
        from holdem.adapters.gateway.nowpayments import NowPaymentsGateway

        money = self.settings.money
        return NowPaymentsGateway(
            money.gateway_base_url,
            money.gateway_api_key.get_secret_value(),
            email=money.gateway_email,
            password=money.gateway_password.get_secret_value(),
            deposit_callback_url=money.deposit_callback_url,
            payout_callback_url=money.payout_callback_url,
        )

    @cached_property
    def rates(self) -> RateService:
        """KRW rates: the Redis cache, else the configured providers in order."""
        from holdem.adapters.rates import PROVIDERS, RateService

        money = self.settings.money
        urls = {"upbit": money.upbit_base_url, "coingecko": money.coingecko_base_url}
        return RateService(
            self.redis,
            [PROVIDERS[name](urls[name]) for name in money.rate_providers],
            cache_ttl_s=money.rate_cache_ttl_s,
            max_age_s=money.rate_max_age_s,
            refresh_wait_s=money.rate_refresh_wait_s,
        )

    @cached_property
    def kyc_provider(self) -> KycProvider | None:
        """The identity-verification provider; None without an API key."""
        from holdem.adapters.kyc import HttpKycProvider

        kyc = self.settings.kyc
        if not kyc.provider_api_key.get_secret_value():
            return None
        return HttpKycProvider(
            kyc.provider_base_url,
            kyc.provider_api_key.get_secret_value(),
            callback_url=kyc.callback_url,
        )

    @cached_property
    def payments_uow(self) -> UnitOfWork:
        """The payment use cases' unit of work: one transaction per ``async with``."""
        from holdem.adapters.repositories.payments import payments_unit_of_work

        return payments_unit_of_work(self.sessions)

    @cached_property
    def transactions(self) -> Transactions:
        """Begins a transaction over every area's repositories, committed when the
        ``async with`` block ends (rolled back when it raises)."""

        return transactions(self.sessions)

    def deposits(self) -> DepositDeps:
        """What the deposit use cases need."""
        from holdem.services.deposits import DepositDeps

        settings = self.settings
        return DepositDeps(
            self.payments_uow,
            settings.money,
            self.coins,
            self.rates,
            self.notifier,
            self.gateway,
            aml=settings.aml,
        )

    def withdrawals(self) -> WithdrawalDeps:
        """What the withdrawal use cases need."""
        from holdem.services.withdrawals import WithdrawalDeps

        settings = self.settings
        return WithdrawalDeps(
            self.payments_uow,
            settings.money,
            self.coins,
            self.rates,
            self.notifier,
            self.gateway,
            self.payout_queue,
            aml=settings.aml,
        )

    def kyc(self) -> KycDeps:
        """What the identity-verification use cases need."""
        from holdem.services.kyc import KycDeps

        settings = self.settings
        return KycDeps(
            self.payments_uow,
            settings.money,
            settings.kyc,
            self.notifier,
            self.kyc_provider,
        )

    # --- accounts and the REST API ---------------------------------------------------------

    @cached_property
    def passwords(self) -> PasswordService:
        """argon2id hashing, its concurrency limited process-wide."""
        return PasswordService(self.settings.auth)

    @cached_property
    def accounts(self) -> Accounts:
        """The account use cases (register, log in, tokens, revocation); a refresh's common
        rotation is one statement on `reads`' connections."""
        return Accounts(
            open_transactions(self.sessions),
            self.redis,
            self.settings.auth,
            self.passwords,
            rotation=RawRefreshRotation(self.reads),
        )

    @cached_property
    def limiter(self) -> RateLimiter:
        """The REST API's request counters."""
        return RateLimiter(ScriptConnections(self.settings.redis_url, self.settings.redis))

    @cached_property
    def lobby_pages(self) -> TablesCache[bytes]:
        """The REST API's lobby pages as JSON answers, as fresh as the live lobby channel
        (one interval; see `holdem.services.lobby.TablesCache`)."""
        return TablesCache(self.settings.ws.lobby_interval_s)

    # --- closing ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Release what was built (pools, connections, HTTP clients); nothing else is built."""
        built = vars(self)
        for name in ("gateway", "rates", "kyc_provider"):
            client = built.get(name)
            if client is not None:
                await client.aclose()
        if "redis" in built:
            # The client was built on an explicit pool: close the pool too, or its connections
            # leak.
            await self.redis.aclose(close_connection_pool=True)
        if "limiter" in built:
            await self.limiter.aclose()
        if "sync_redis" in built:
            self.sync_redis.close()
        for name in ("statements", "reads"):
            if name in built:
                await built[name].aclose()
        if "engine" in built:
            await self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, component: str | None = None) -> Container:
    """The container of a process, on settings (the environment's by default). Opens no
    connection.

    `component` tags this process's error reports (``edge``, ``api``); a Lambda defaults to
    its function's name.
    """
    if settings is None:
        resolve_secret_references()  # {{secret:ARN#key}} values set by template.yaml
        settings = get_settings()
    init_sentry(
        settings,
        component=component or os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "holdem",
    )
    return Container(settings)


_process: Container | None = None


def process_container(*, component: str | None = None) -> Container:
    """This process's container, bootstrapped from the environment on the first call.

    A Lambda execution environment calls it on each invocation and gets the container of its
    cold start; `component` is used only by the first call.
    """
    global _process  # one per process, by design: a cold start's clients serve every invocation
    if _process is None:
        _process = bootstrap(component=component)
    return _process


async def reset_process_container() -> None:
    """Close and forget the process's container (tests, or after a settings change); the next
    `process_container()` call builds a new one. Await it on the loop the container was used
    on (a Lambda's: `functions.event_loop.run`)."""
    global _process
    built, _process = _process, None
    if built is not None:
        await built.aclose()
