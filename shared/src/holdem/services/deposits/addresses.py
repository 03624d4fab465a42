"""Standing deposit addresses: issued by the gateway once per user and coin, then stored."""

from __future__ import annotations

from holdem.payments.errors import InvalidAddress, UnsupportedCoin
from holdem.payments.gateway import GatewayError
from holdem.ports.payments import DepositAddressRow, UnknownUserError
from holdem.services import errors
from holdem.services.deposits.notices import DepositDeps, GatewayUnavailableError
from holdem.services.errors import CoinNotAccepted


async def deposit_address(deps: DepositDeps, user_id: int, coin_symbol: str) -> DepositAddressRow:
    """The user's standing address for a coin: created at the gateway once, then stored.

    Raises:
        CoinNotAccepted: the coin is not one the card room takes.
        NotFound: no such user (the account was deleted while its access token lives on).
        GatewayUnavailableError: the gateway issued no usable address.
    """
    try:
        coin = deps.coins.get(coin_symbol)
    except UnsupportedCoin as exc:
        raise CoinNotAccepted(exc.message, exc.details) from exc
    async with deps.uow() as uow:
        found = await uow.deposits.address_of(user_id, coin.symbol)
        if found is None and not await uow.deposits.user_exists(user_id):
            raise _no_such_user(user_id)  # before asking the gateway for an address
    if found is not None:
        return found
    if deps.gateway is None:
        raise GatewayUnavailableError("no payment gateway is configured")
    try:
        issued = await deps.gateway.create_deposit_address(coin, f"user-{user_id}")
        address = coin.validate_address(issued.address, deps.money.address_network)
    except (GatewayError, InvalidAddress) as exc:
        raise GatewayUnavailableError(f"the gateway did not issue a usable address: {exc}") from exc
    try:
        async with deps.uow() as uow:
            return await uow.deposits.add_address(user_id, coin.symbol, address, issued.gateway_ref)
    except UnknownUserError as exc:
        raise _no_such_user(user_id) from exc  # deleted while the gateway was asked


def _no_such_user(user_id: int) -> errors.NotFound:
    return errors.NotFound("no such user", {"user_id": user_id})
