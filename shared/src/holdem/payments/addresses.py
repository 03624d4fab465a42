"""Chain address validation: Bitcoin (base58check, bech32, bech32m) and Ethereum (EIP-55).

Checks are exact (checksums, versions, witness program lengths, network prefixes), so a
typing error or an address of the wrong chain or network is refused before any money moves.

>>> validate_bitcoin("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'
>>> validate_ethereum("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
'0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Literal

from Crypto.Hash import keccak

from holdem.payments.errors import InvalidAddress

Network = Literal["mainnet", "testnet"]

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
# Version bytes of pay-to-pubkey-hash and pay-to-script-hash addresses.
_B58_VERSIONS: dict[Network, frozenset[int]] = {
    "mainnet": frozenset({0x00, 0x05}),
    "testnet": frozenset({0x6F, 0xC4}),
}
_BECH32_HRP: dict[Network, frozenset[str]] = {
    "mainnet": frozenset({"bc"}),
    "testnet": frozenset({"tb", "bcrt"}),
}
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3


class AddressKind(StrEnum):
    """How an address of a chain is written."""

    BITCOIN = "bitcoin"
    ETHEREUM = "ethereum"


# --- base58check -----------------------------------------------------------------------


def base58_decode(text: str) -> bytes:
    """Decode base58 (Bitcoin alphabet), keeping leading zero bytes."""
    number = 0
    for char in text:
        if char not in _B58_INDEX:
            raise InvalidAddress(f"{char!r} is not a base58 character")
        number = number * 58 + _B58_INDEX[char]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + body


def base58_encode(data: bytes) -> str:
    """Encode bytes as base58 (Bitcoin alphabet)."""
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _B58_ALPHABET[rem] + out
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + out


def base58check_encode(version: int, payload: bytes) -> str:
    """`version ‖ payload ‖ checksum` in base58 (a legacy Bitcoin address when 20 bytes)."""
    raw = bytes([version]) + payload
    return base58_encode(raw + hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4])


def _validate_base58(address: str, network: Network) -> str:
    if not 26 <= len(address) <= 35:
        raise InvalidAddress("a base58 Bitcoin address has 26 to 35 characters")
    raw = base58_decode(address)
    if len(raw) != 25:
        raise InvalidAddress("a base58 Bitcoin address holds 25 bytes")
    body, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4] != checksum:
        raise InvalidAddress("the base58check checksum does not match")
    if body[0] not in _B58_VERSIONS[network]:
        raise InvalidAddress(f"not a {network} Bitcoin address (version byte {body[0]:#04x})")
    return address


# --- bech32 / bech32m (BIP-173, BIP-350) -----------------------------------------------


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= generator[i] if (top >> i) & 1 else 0
    return check


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: list[int], from_bits: int, to_bits: int, pad: bool) -> list[int] | None:
    acc = bits = 0
    out: list[int] = []
    max_value = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & max_value)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & max_value)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & max_value):
        return None
    return out


def segwit_encode(hrp: str, version: int, program: bytes) -> str:
    """A segwit address: bech32 for witness version 0, bech32m for versions 1 to 16."""
    data = [version, *(_convert_bits(list(program), 8, 5, pad=True) or [])]
    const = _BECH32_CONST if version == 0 else _BECH32M_CONST
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32_CHARSET[d] for d in data + checksum)


def _validate_segwit(address: str, network: Network) -> str:
    if len(address) > 90:
        raise InvalidAddress("a bech32 address has at most 90 characters")
    if address.lower() != address and address.upper() != address:
        raise InvalidAddress("a bech32 address must not mix upper and lower case")
    text = address.lower()
    hrp, _, data_part = text.rpartition("1")
    if hrp not in _BECH32_HRP[network]:
        raise InvalidAddress(f"not a {network} Bitcoin address (prefix {hrp!r})")
    if len(data_part) < 7 or any(c not in _BECH32_CHARSET for c in data_part):
        raise InvalidAddress("the bech32 data part is malformed")
    data = [_BECH32_CHARSET.index(c) for c in data_part]
    const = _polymod([*_hrp_expand(hrp), *data])
    version = data[0]
    if version > 16:
        raise InvalidAddress("the witness version is above 16")
    expected = _BECH32_CONST if version == 0 else _BECH32M_CONST
    if const != expected:
        kind = "bech32" if version == 0 else "bech32m"
        raise InvalidAddress(f"the {kind} checksum does not match")
    program = _convert_bits(data[1:-6], 5, 8, pad=False)
    if program is None or not 2 <= len(program) <= 40:
        raise InvalidAddress("the witness program is malformed")
    if version == 0 and len(program) not in (20, 32):
        raise InvalidAddress("a version 0 witness program has 20 or 32 bytes")
    return address


def validate_bitcoin(address: str, network: Network = "mainnet") -> str:
    """Return `address` if it is a valid Bitcoin address of `network`, else raise."""
    if not address or address != address.strip():
        raise InvalidAddress("the address is empty or has surrounding spaces")
    lowered = address.lower()
    if any(lowered.startswith(hrp + "1") for hrp in ("bc", "tb", "bcrt")):
        return _validate_segwit(address, network)
    return _validate_base58(address, network)


# --- Ethereum (EIP-55) -----------------------------------------------------------------


def keccak_256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum uses it (the original Keccak padding, not NIST SHA3-256, which
    `hashlib.sha3_256` is), from pycryptodome.

    >>> keccak_256(b"").hex()
    'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'
    """
    return keccak.new(data=data, digest_bits=256).digest()


def eip55_checksum(address: str) -> str:
    """The EIP-55 mixed-case form of a 20-byte hex address."""
    hex_part = address.lower().removeprefix("0x")
    digest = keccak_256(hex_part.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_part)
    )


def validate_ethereum(address: str, *, require_checksum: bool = False) -> str:
    """Return the EIP-55 form of `address` if it is a valid Ethereum address, else raise.

    A mixed-case address must match its EIP-55 checksum. An all-lowercase or all-uppercase
    address carries no checksum; it is refused when `require_checksum` is set.
    """
    if len(address) != 42 or not address.startswith("0x"):
        raise InvalidAddress("an Ethereum address is 0x followed by 40 hex digits")
    hex_part = address[2:]
    if any(c not in "0123456789abcdefABCDEF" for c in hex_part):
        raise InvalidAddress("an Ethereum address is 0x followed by 40 hex digits")
    if int(hex_part, 16) == 0:
        raise InvalidAddress("the zero address burns funds")
    checksummed = eip55_checksum(address)
    single_case = hex_part == hex_part.lower() or hex_part == hex_part.upper()
    if single_case:
        if require_checksum:
            raise InvalidAddress("the address has no EIP-55 checksum (mixed case required)")
        return checksummed
    if address != checksummed:
        raise InvalidAddress("the EIP-55 checksum does not match (a mistyped character?)")
    return checksummed


def validate_address(
    kind: AddressKind, address: str, network: Network = "mainnet", *, require_checksum: bool = False
) -> str:
    """Validate an address of a chain; returns its canonical form (EIP-55 for Ethereum)."""
    if kind is AddressKind.BITCOIN:
        return validate_bitcoin(address, network)
    return validate_ethereum(address, require_checksum=require_checksum)
