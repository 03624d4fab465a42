"""Access tokens: what the REST API signs, the table servers and the API accept."""

from __future__ import annotations

import jwt
import pytest

from holdem.auth.tokens import (
    AUDIENCE,
    ISSUER,
    InvalidTokenError,
    decode_access_token,
    issue_access_token,
)
from holdem.config import AuthSettings

SETTINGS = AuthSettings(jwt_secret="unit-test-signing-key-0123456789abcdef")
NOW = 1_800_000_000


def test_an_issued_token_decodes_to_its_claims():
    token, claims = issue_access_token(42, "player", SETTINGS, now=NOW)
    decoded = decode_access_token(token, SETTINGS, now=NOW + 10)
    assert decoded == claims
    assert decoded.user_id == 42
    assert decoded.expires_at == NOW + 15 * 60


def test_an_expired_token_is_rejected():
    token, _ = issue_access_token(42, "player", SETTINGS, now=NOW)
    with pytest.raises(InvalidTokenError) as error:
        decode_access_token(token, SETTINGS, now=NOW + 15 * 60)
    assert error.value.reason == "expired"


def test_a_token_signed_with_another_key_is_rejected():
    other = AuthSettings(jwt_secret="another-signing-key-0123456789abcdefgh")
    token, _ = issue_access_token(42, "player", other, now=NOW)
    with pytest.raises(InvalidTokenError):
        decode_access_token(token, SETTINGS, now=NOW)


def test_an_unsigned_none_algorithm_token_is_rejected():
    payload = {"sub": "42", "typ": "access", "iss": ISSUER, "aud": AUDIENCE, "iat": 1}
    token = jwt.encode({**payload, "exp": 2**31, "jti": "x"}, key=None, algorithm="none")
    with pytest.raises(InvalidTokenError):
        decode_access_token(token, SETTINGS, now=NOW)


def test_a_refresh_typed_token_is_not_an_access_token():
    payload = {"sub": "42", "typ": "refresh", "iss": ISSUER, "aud": AUDIENCE, "iat": 1}
    key = SETTINGS.jwt_secret.get_secret_value()
    token = jwt.encode({**payload, "exp": 2**31, "jti": "x"}, key, algorithm="HS256")
    with pytest.raises(InvalidTokenError):
        decode_access_token(token, SETTINGS, now=NOW)


def test_a_token_verified_before_still_expires_and_is_still_tied_to_its_key():
    token, claims = issue_access_token(43, "player", SETTINGS, now=NOW)
    assert decode_access_token(token, SETTINGS, now=NOW + 1) == claims
    assert decode_access_token(token, SETTINGS, now=NOW + 2) == claims  # the remembered answer
    with pytest.raises(InvalidTokenError) as error:
        decode_access_token(token, SETTINGS, now=NOW + 15 * 60)
    assert error.value.reason == "expired"
    rotated = AuthSettings(jwt_secret="a-rotated-signing-key-0123456789abcdef")
    with pytest.raises(InvalidTokenError):
        decode_access_token(token, rotated, now=NOW + 1)


def test_a_token_from_the_future_is_refused_even_when_verified_before():
    token, _ = issue_access_token(44, "player", SETTINGS, now=NOW + 60)
    assert decode_access_token(token, SETTINGS, now=NOW + 60).user_id == 44
    with pytest.raises(InvalidTokenError) as error:
        decode_access_token(token, SETTINGS, now=NOW)  # issued 60 s after "now": skew > 30 s
    assert error.value.reason == "invalid"


def test_a_token_issued_to_a_login_names_it():
    token, claims = issue_access_token(45, "player", SETTINGS, now=NOW, family_id="fam-1")
    assert decode_access_token(token, SETTINGS, now=NOW).family_id == claims.family_id == "fam-1"
    plain, _ = issue_access_token(45, "player", SETTINGS, now=NOW)
    assert decode_access_token(plain, SETTINGS, now=NOW).family_id is None


@pytest.mark.parametrize(
    "subject", [str(2**63), "9" * 40, "0", "-1", "+7", " 7", "٣", "1_000"], ids=repr
)
def test_a_signed_token_whose_subject_is_not_a_bigint_user_id_is_invalid(subject):
    """A subject beyond bigint names nobody: refused here, it never reaches a query (where it
    would fail the statement: a 500)."""
    key = SETTINGS.jwt_secret.get_secret_value()
    payload = {"sub": subject, "typ": "access", "iss": ISSUER, "aud": AUDIENCE, "iat": NOW}
    token = jwt.encode({**payload, "exp": NOW + 60, "jti": "x"}, key, algorithm="HS256")
    with pytest.raises(InvalidTokenError):
        decode_access_token(token, SETTINGS, now=NOW)


def test_the_largest_bigint_user_id_is_a_valid_subject():
    token, _ = issue_access_token(2**63 - 1, "player", SETTINGS, now=NOW)
    assert decode_access_token(token, SETTINGS, now=NOW).user_id == 2**63 - 1
