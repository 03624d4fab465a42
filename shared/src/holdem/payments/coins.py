"""The coins a card room accepts, built from its settings.

Each coin knows its chain's address format, the token network for stablecoins (USDT and USDC
are paid out as ERC-20 tokens on Ethereum), its precision, the confirmations a deposit needs
and the ticker the payment gateway uses for it.

>>> registry = CoinRegistry.build(("BTC", "USDT"), {"BTC": 3, "USDT": 12})
>>> registry.get("usdt").gateway_code, registry.get("USDT").min_confirmations
('usdterc20', 12)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from holdem.payments.addresses import AddressKind, Network, validate_address
from holdem.payments.errors import UnsupportedCoin


@dataclass(frozen=True)
class CoinSpec:
    """What we know about a coin regardless of configuration."""

    symbol: str
    chain: str
    token_network: str | None
    address_kind: AddressKind
    decimals: int
    gateway_code: str


KNOWN_COINS: dict[str, CoinSpec] = {
    "BTC": CoinSpec("BTC", "bitcoin", None, AddressKind.BITCOIN, 8, "btc"),
    "ETH": CoinSpec("ETH", "ethereum", None, AddressKind.ETHEREUM, 18, "eth"),
    "USDT": CoinSpec("USDT", "ethereum", "ERC20", AddressKind.ETHEREUM, 6, "usdterc20"),
    "USDC": CoinSpec("USDC", "ethereum", "ERC20", AddressKind.ETHEREUM, 6, "usdcerc20"),
}


@dataclass(frozen=True)
class Coin:
    """A coin as configured: its spec plus the confirmations a deposit needs."""

    spec: CoinSpec
    min_confirmations: int

    @property
    def symbol(self) -> str:
        return self.spec.symbol

    @property
    def decimals(self) -> int:
        return self.spec.decimals

    @property
    def gateway_code(self) -> str:
        return self.spec.gateway_code

    def validate_address(
        self, address: str, network: Network = "mainnet", *, require_checksum: bool = False
    ) -> str:
        """The canonical form of `address` if it can receive this coin, else InvalidAddress."""
        return validate_address(
            self.spec.address_kind, address, network, require_checksum=require_checksum
        )


@dataclass(frozen=True)
class CoinRegistry:
    """The accepted coins, by upper-case symbol."""

    coins: Mapping[str, Coin]

    @classmethod
    def build(cls, symbols: Iterable[str], min_confirmations: Mapping[str, int]) -> CoinRegistry:
        """Registry of `symbols` (each must be a known coin and have a confirmation count)."""
        coins: dict[str, Coin] = {}
        for raw in symbols:
            symbol = raw.upper()
            spec = KNOWN_COINS.get(symbol)
            if spec is None:
                raise UnsupportedCoin(f"{raw} is not a coin this backend knows", {"coin": raw})
            confirmations = min_confirmations.get(symbol)
            if confirmations is None or confirmations < 1:
                raise UnsupportedCoin(f"{symbol} has no minimum confirmation count configured")
            coins[symbol] = Coin(spec, confirmations)
        return cls(coins)

    def get(self, symbol: str) -> Coin:
        """The coin for a symbol in any case, or UnsupportedCoin."""
        coin = self.coins.get(symbol.upper()) if isinstance(symbol, str) else None
        if coin is None:
            raise UnsupportedCoin(
                f"{symbol!r} is not accepted; use one of {', '.join(self.coins)}",
                {"coin": symbol, "accepted": list(self.coins)},
            )
        return coin

    def by_gateway_code(self, code: str) -> Coin:
        """The coin for a gateway ticker (``btc``, ``usdterc20``...), or UnsupportedCoin."""
        for coin in self.coins.values():
            if coin.gateway_code == code.lower():
                return coin
        raise UnsupportedCoin(f"gateway currency {code!r} is not accepted", {"coin": code})

    def __iter__(self) -> Iterator[Coin]:
        return iter(self.coins.values())
