"""Optional Sentry: off without a DSN, no personal data, money errors at the highest level."""

from __future__ import annotations

import sentry_sdk
from sentry_sdk.transport import Transport

from holdem.bootstrap import bootstrap
from holdem.config import Settings
from holdem.observability.sentry import init_sentry, is_money_error, scrub_event


class CapturingTransport(Transport):
    def __init__(self) -> None:
        super().__init__()
        self.envelopes = []

    def capture_envelope(self, envelope) -> None:
        self.envelopes.append(envelope)

    def events(self):
        return [
            item.payload.json
            for env in self.envelopes
            for item in env.items
            if item.type == "event"
        ]


def test_sentry_stays_off_without_a_dsn():
    assert init_sentry(Settings(), component="api") is False
    assert sentry_sdk.get_client().is_active() is False


def test_money_errors_are_fatal_and_no_personal_data_is_sent():
    transport = CapturingTransport()
    settings = Settings(sentry_dsn="https://public@sentry.example.invalid/1", environment="test")
    # Built at run time: source lines travel as the frames' context.
    email = "-".join(["player", "one"]) + "@example.com"
    ip = ".".join(["203", "0", "113", "9"])
    try:
        assert init_sentry(settings, component="api", transport=transport) is True
        money_error = type("LedgerImbalance", (Exception,), {"__module__": "holdem.ledger.rules"})
        sentry_sdk.set_user({"id": "42", "email": email, "ip_address": ip})
        try:
            raise money_error("books do not balance")
        except money_error:
            sentry_sdk.capture_exception()
        try:
            raise ValueError("ordinary")
        except ValueError:
            sentry_sdk.capture_exception()
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # back to the inactive client
    money, ordinary = transport.events()
    assert money["level"] == "fatal"
    assert money["tags"]["money"] == "true"
    assert money["tags"]["component"] == "api"
    assert ordinary["level"] == "error"
    for event in (money, ordinary):
        assert "user" not in event
        assert email not in str(event)
        assert ip not in str(event)


def test_scrub_drops_bodies_cookies_and_credentials():
    event = {
        "user": {"email": "a@b.c"},
        "request": {
            "data": {"password": "x"},
            "cookies": {"session": "s"},
            "headers": {"Authorization": "Bearer t", "Accept": "application/json"},
        },
    }
    scrubbed = scrub_event(event, {})
    assert scrubbed == {"request": {"headers": {"Accept": "application/json"}}}


def test_money_errors_are_recognised_by_their_package():
    outside = type("Boom", (Exception,), {"__module__": "holdem.engine.errors"})
    inside = type("Boom", (Exception,), {"__module__": "holdem.services.withdrawals"})
    assert not is_money_error(outside())
    assert is_money_error(inside())


async def test_every_process_that_bootstraps_reports_its_errors_when_a_dsn_is_set():
    settings = Settings(sentry_dsn="https://public@sentry.example.invalid/1", environment="test")
    container = bootstrap(settings, component="edge")
    try:
        client = sentry_sdk.get_client()
        assert client.is_active()
        assert client.options["environment"] == "test"
        assert sentry_sdk.get_isolation_scope()._tags["component"] == "edge"
    finally:
        sentry_sdk.get_client().close()  # nothing was captured, so nothing is sent
        sentry_sdk.init()  # back to the inactive client
        await container.aclose()
