"""Revoked access tokens at the edge: refused at authentication, and live connections closed
when the REST API revokes them (logout, logout everywhere, a locked account, the reuse of a
rotated refresh token)."""

from __future__ import annotations

import pytest

from holdem.adapters.repositories.transaction import open_transactions
from holdem.auth.passwords import PasswordService
from holdem.auth.tokens import decode_access_token, issue_access_token
from holdem.client import ClientError
from holdem.services.accounts import Accounts
from holdem.services.errors import RefreshTokenReused
from tests.edge.conftest import url_of


@pytest.fixture
def accounts(container, edge_settings) -> Accounts:
    """The REST API's account use cases on the same PostgreSQL and Redis."""
    auth = edge_settings.auth
    return Accounts(
        open_transactions(container.sessions), container.redis, auth, PasswordService(auth)
    )


async def test_a_token_revoked_by_logout_is_refused_and_its_live_connection_closed(
    start_edge, make_players, clients, accounts, edge_settings
):
    server = await start_edge()
    [player] = await make_players(1)
    other_token, _ = issue_access_token(player.user_id, "player", edge_settings.auth)
    live = clients(url_of(server), player.token, encoding="json")
    await live.connect()
    other = clients(url_of(server), other_token)
    await other.connect()

    await accounts.logout(None, decode_access_token(player.token, edge_settings.auth))

    closed = await live.wait_closed()
    assert (closed.code, closed.reason) == (4001, "token_revoked")
    # Only the revoked token's connection: the user's other login stays connected.
    assert (await other.request({"type": "ping"}))["type"] == "pong"
    again = clients(url_of(server), player.token)
    with pytest.raises(ClientError) as raised:
        await again.connect()
    assert raised.value.code == "invalid_token"
    assert raised.value.message["message"] == "revoked"
    closed = await again.wait_closed()
    assert (closed.code, closed.reason) == (4001, "invalid_token")


@pytest.mark.parametrize("how", ["logout_all", "lock"])
async def test_logging_out_everywhere_or_a_lock_closes_every_connection_of_the_user_fleet_wide(
    how, start_edge, make_players, clients, accounts
):
    servers = [await start_edge(), await start_edge()]
    [player, bystander] = await make_players(2)
    mine = [clients(url_of(servers[i % 2]), player.token) for i in range(2)]
    for client in mine:
        await client.connect()
    theirs = clients(url_of(servers[0]), bystander.token)
    await theirs.connect()

    if how == "lock":
        await accounts.set_locked(player.user_id, True, actor_id=bystander.user_id)
    else:
        await accounts.logout_all(player.user_id)

    for client in mine:
        closed = await client.wait_closed()
        assert (closed.code, closed.reason) == (4001, "token_revoked")
    assert (await theirs.request({"type": "ping"}))["type"] == "pong"
    refused = clients(url_of(servers[1]), player.token)
    with pytest.raises(ClientError):
        await refused.connect()
    if how == "logout_all":
        # A token issued after the cutoff (a fresh login) is accepted.
        fresh, _ = await accounts.issue_access_token(player.user_id, "player")
        welcome = clients(url_of(servers[1]), fresh)
        assert (await welcome.connect())["user_id"] == player.user_id


async def test_reusing_a_rotated_refresh_token_closes_every_connection_of_that_login_at_once(
    start_edge, clients, accounts
):
    server = await start_edge()
    password = "correct horse battery staple"
    user = await accounts.register("reuse@example.com", "reuser", password)
    victim = await accounts.login("reuse@example.com", password, None)
    elsewhere = await accounts.login("reuse@example.com", password, None)  # another device
    thief = await accounts.refresh(victim.refresh_token, None)  # the stolen token, used first
    live = {
        name: clients(url_of(server), pair.access_token)
        for name, pair in (("victim", victim), ("thief", thief), ("elsewhere", elsewhere))
    }
    for client in live.values():
        assert (await client.connect())["user_id"] == user.id

    with pytest.raises(RefreshTokenReused):  # the victim's app refreshes with its spent token
        await accounts.refresh(victim.refresh_token, None)

    for name in ("victim", "thief"):
        closed = await live[name].wait_closed()
        assert (closed.code, closed.reason) == (4001, "token_revoked")
    # Only that login: the user's other device stays connected.
    assert (await live["elsewhere"].request({"type": "ping"}))["type"] == "pong"
    for pair in (victim, thief):
        again = clients(url_of(server), pair.access_token)
        with pytest.raises(ClientError) as raised:
            await again.connect()
        assert (raised.value.code, raised.value.message["message"]) == ("invalid_token", "revoked")
