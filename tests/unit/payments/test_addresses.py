"""Chain address validation against the BIP-173 / BIP-350 / EIP-55 published vectors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holdem.payments.addresses import (
    AddressKind,
    base58check_encode,
    eip55_checksum,
    keccak_256,
    segwit_encode,
    validate_address,
    validate_bitcoin,
    validate_ethereum,
)
from holdem.payments.errors import InvalidAddress

VALID_MAINNET = [
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",  # P2PKH
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",  # P2SH
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",  # BIP-173, upper case
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",  # P2WSH
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",  # BIP-350 taproot
    "BC1SW50QGDZ25J",  # witness v16, 2 bytes (bech32m)
]
VALID_TESTNET = [
    "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",
    "2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc",
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
    "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
]
INVALID = [
    # v1+ with a bech32 (not bech32m) checksum — BIP-350 says invalid
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
    "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du",
    # v0 with a bech32m checksum
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # one character changed
    "bc1QW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",  # mixed case
    "bc1gmk9yu",  # empty data
    "bc1rw5uspcuh",  # program too short
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3",  # base58 checksum
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN0",  # 0 is not base58
    "",
    " 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # an Ethereum address
]

EIP55_VECTORS = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", VALID_MAINNET)
def test_valid_mainnet_bitcoin_addresses_are_accepted(address):
    assert validate_bitcoin(address, "mainnet") == address


@pytest.mark.parametrize("address", VALID_TESTNET)
def test_testnet_addresses_are_accepted_on_testnet_and_refused_on_mainnet(address):
    assert validate_bitcoin(address, "testnet") == address
    with pytest.raises(InvalidAddress, match="mainnet"):
        validate_bitcoin(address, "mainnet")


@pytest.mark.parametrize("address", INVALID)
def test_invalid_bitcoin_addresses_are_refused_with_a_reason(address):
    with pytest.raises(InvalidAddress) as caught:
        validate_bitcoin(address, "mainnet")
    assert caught.value.code == "invalid_address"
    assert caught.value.message


def test_keccak_256_is_the_ethereum_variant_not_nist_sha3():
    assert keccak_256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert keccak_256(b"abc").hex() == (
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    )
    assert keccak_256(b"").hex() != hashlib.sha3_256(b"").hexdigest()


def test_keccak_256_handles_inputs_across_block_boundaries():
    # 135, 136 and 137 bytes straddle the 136-byte rate; the digests must all differ.
    digests = {keccak_256(b"x" * n) for n in (135, 136, 137, 272)}
    assert len(digests) == 4


@pytest.mark.parametrize("address", EIP55_VECTORS)
def test_eip55_vectors_validate_and_round_trip(address):
    assert eip55_checksum(address.lower()) == address
    assert validate_ethereum(address) == address
    assert validate_ethereum(address.lower()) == address  # no checksum given: normalised


@pytest.mark.parametrize("address", EIP55_VECTORS)
def test_a_wrong_case_letter_breaks_the_eip55_checksum(address):
    i = next(i for i, c in enumerate(address[2:], 2) if c.isalpha())
    flipped = address[:i] + address[i].swapcase() + address[i + 1 :]
    with pytest.raises(InvalidAddress, match="EIP-55"):
        validate_ethereum(flipped)


@pytest.mark.parametrize(
    "address",
    [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",  # 39 hex digits
        "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00",  # no 0x
        "0xZaAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0x0000000000000000000000000000000000000000",
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
    ],
)
def test_malformed_ethereum_addresses_are_refused(address):
    with pytest.raises(InvalidAddress):
        validate_ethereum(address)


def test_single_case_addresses_are_refused_when_a_checksum_is_required():
    with pytest.raises(InvalidAddress, match="checksum"):
        validate_ethereum(EIP55_VECTORS[0].lower(), require_checksum=True)


def test_validate_address_dispatches_on_the_chain():
    assert validate_address(AddressKind.ETHEREUM, EIP55_VECTORS[1]) == EIP55_VECTORS[1]
    with pytest.raises(InvalidAddress):
        validate_address(AddressKind.BITCOIN, EIP55_VECTORS[1])


@settings(max_examples=50, deadline=None)
@given(program=st.binary(min_size=20, max_size=20), testnet=st.booleans())
def test_generated_p2wpkh_addresses_validate(program, testnet):
    hrp = "tb" if testnet else "bc"
    address = segwit_encode(hrp, 0, program)
    assert validate_bitcoin(address, "testnet" if testnet else "mainnet") == address


@settings(max_examples=50, deadline=None)
@given(program=st.binary(min_size=32, max_size=32))
def test_generated_taproot_addresses_validate_and_any_one_char_edit_fails(program):
    address = segwit_encode("bc", 1, program)
    assert validate_bitcoin(address) == address
    i = len(address) // 2
    replacement = "q" if address[i] != "q" else "p"
    with pytest.raises(InvalidAddress):
        validate_bitcoin(address[:i] + replacement + address[i + 1 :])


@settings(max_examples=50, deadline=None)
@given(payload=st.binary(min_size=20, max_size=20), version=st.sampled_from([0x00, 0x05]))
def test_generated_base58check_addresses_validate(payload, version):
    address = base58check_encode(version, payload)
    assert validate_bitcoin(address) == address
