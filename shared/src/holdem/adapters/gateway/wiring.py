"""Builds the payment adapters from settings, once per process (a Lambda cold start).

`PaymentsRuntime.build(container)` gives the gateway client, the rate service, the notifier,
the coin registry and the KYC provider; `.deposits()`, `.withdrawals()` and `.kyc()` hand
them to the use cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from holdem.adapters.gateway.nowpayments import NowPaymentsGateway
from holdem.adapters.kyc import HttpKycProvider
from holdem.adapters.rates import PROVIDERS, RateService
from holdem.adapters.repositories.payments import payments_unit_of_work
from holdem.bootstrap import Container
from holdem.payments.coins import CoinRegistry
from holdem.ports.payments import KycProvider, PaymentGateway
from holdem.services.deposits import DepositDeps, coin_registry
from holdem.services.kyc import KycDeps
from holdem.services.notifications import Notifier, SendToQueue, sqs_sender
from holdem.services.withdrawals import Enqueue, WithdrawalDeps


@dataclass
class PaymentsRuntime:
    container: Container
    coins: CoinRegistry
    gateway: PaymentGateway
    rates: RateService
    notifier: Notifier
    enqueue: Enqueue | None = None
    kyc_provider: KycProvider | None = None

    @classmethod
    def build(
        cls,
        container: Container,
        *,
        gateway: PaymentGateway | None = None,
        rates: RateService | None = None,
        send_notice: SendToQueue | None = None,
        enqueue: Enqueue | None = None,
        kyc_provider: KycProvider | None = None,
    ) -> PaymentsRuntime:
        """Adapters from the container's settings; pass any of them to replace it."""
        settings = container.settings
        money = settings.money
        if gateway is None:
            gateway = NowPaymentsGateway(
                money.gateway_base_url,
                money.gateway_api_key.get_secret_value(),
                email=money.gateway_email,
                password=money.gateway_password.get_secret_value(),
                deposit_callback_url=money.deposit_callback_url,
                payout_callback_url=money.payout_callback_url,
            )
        if rates is None:
            urls = {"upbit": money.upbit_base_url, "coingecko": money.coingecko_base_url}
            providers = [PROVIDERS[name](urls[name]) for name in money.rate_providers]
            rates = RateService(
                container.redis,
                providers,
                cache_ttl_s=money.rate_cache_ttl_s,
                max_age_s=money.rate_max_age_s,
                refresh_wait_s=money.rate_refresh_wait_s,
            )
        aws = settings.aws
        if enqueue is None and aws.payout_queue_url:
            enqueue = sqs_enqueue(aws.payout_queue_url, aws.region, aws.endpoint_url)
        queue_url = settings.aws.notification_queue_url
        if send_notice is None and queue_url:
            send_notice = sqs_sender(queue_url, settings.aws.region, settings.aws.endpoint_url)
        kyc = settings.kyc
        if kyc_provider is None and kyc.provider_api_key.get_secret_value():
            kyc_provider = HttpKycProvider(
                kyc.provider_base_url,
                kyc.provider_api_key.get_secret_value(),
                callback_url=kyc.callback_url,
            )
        return cls(
            container,
            coin_registry(money),
            gateway,
            rates,
            Notifier(container.redis, send_notice),
            enqueue,
            kyc_provider,
        )

    def deposits(self) -> DepositDeps:
        money = self.container.settings.money
        return DepositDeps(
            payments_unit_of_work(self.container.sessions),
            money,
            self.coins,
            self.rates,
            self.notifier,
            self.gateway,
            aml=self.container.settings.aml,
        )

    def withdrawals(self) -> WithdrawalDeps:
        money = self.container.settings.money
        return WithdrawalDeps(
            payments_unit_of_work(self.container.sessions),
            money,
            self.coins,
            self.rates,
            self.notifier,
            self.gateway,
            self.enqueue,
            aml=self.container.settings.aml,
        )

    def kyc(self) -> KycDeps:
        settings = self.container.settings
        return KycDeps(
            payments_unit_of_work(self.container.sessions),
            settings.money,
            settings.kyc,
            self.notifier,
            self.kyc_provider,
        )

    async def aclose(self) -> None:
        await self.gateway.aclose()
        await self.rates.aclose()
        if self.kyc_provider is not None:
            await self.kyc_provider.aclose()


def sqs_enqueue(queue_url: str, region: str, endpoint_url: str | None) -> Enqueue:
    """An `Enqueue` sending one SQS message per withdrawal id (batches of 10)."""
    import asyncio
    import json

    import boto3

    client = boto3.client("sqs", region_name=region, endpoint_url=endpoint_url)

    async def enqueue(ids: list[int]) -> None:
        for start in range(0, len(ids), 10):
            entries: Any = [
                {"Id": str(i), "MessageBody": json.dumps({"withdrawal_id": i})}
                for i in ids[start : start + 10]
            ]
            await asyncio.to_thread(client.send_message_batch, QueueUrl=queue_url, Entries=entries)

    return enqueue
