"""Request and response bodies (pydantic, at the boundary only). Amounts are integer KRW.

Request bodies are strict (`Strict`), as the WebSocket protocol's messages are: a value must
already have its type — the string ``"10000"`` is not an amount, ``false`` is not a rate —
and a field the schema does not name is refused.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=3,
        max_length=254,
        pattern=r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$",
    ),
]
Nickname = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_\-가-힣]{3,32}$")]
Password = Annotated[str, StringConstraints(min_length=10, max_length=128)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TableName = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z가-힣 _\-#'.]{1,64}$")]
Won = Annotated[int, Field(ge=0, le=10**15)]
PositiveWon = Annotated[int, Field(ge=1, le=10**15)]


class Strict(BaseModel):
    """A request body: no coercion between types (bools are not ints), no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine code, e.g. invalid_credentials")
    message: str
    details: dict[str, Any]


class ErrorEnvelope(BaseModel):
    """Every error response."""

    error: ErrorBody


# --- accounts ---------------------------------------------------------------------------


class RegisterRequest(Strict):
    email: Email
    nickname: Nickname
    password: Password
    date_of_birth: Annotated[
        date,
        Field(
            description="ISO date (YYYY-MM-DD); the player must be at least the card room's "
            "minimum age (JURISDICTION__MINIMUM_AGE, 18 by default)",
            strict=False,
        ),
    ]


class LoginRequest(Strict):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshRequest(Strict):
    refresh_token: Token


class LogoutRequest(Strict):
    refresh_token: Token | None = None


class TokenResponse(BaseModel):
    token_type: Literal["bearer"] = "bearer"
    access_token: str
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str
    refresh_expires_at: datetime
    user_id: int
    role: str


class UserOut(BaseModel):
    id: int
    email: str
    nickname: str
    role: str
    kyc_status: str
    is_locked: bool
    created_at: datetime


class VipOut(BaseModel):
    level: str
    rakeback_rate_bps: int
    rake_paid: int = Field(description="Rake paid in the window, KRW")
    window_days: int
    window_start: datetime
    next_level: str | None
    next_threshold: int | None
    to_next_level: int


class SeatBalanceOut(BaseModel):
    table_id: int
    amount: int = Field(description="Chips at that table, KRW")


class BalanceOut(BaseModel):
    currency: Literal["KRW"] = "KRW"
    wallet: int
    pending_withdrawal: int = Field(description="Withdrawals requested and not yet paid")
    locked: int = Field(
        0,
        description="Credited over a deposit limit or during a break or self-exclusion: "
        "withdrawable, not playable",
    )
    seats: list[SeatBalanceOut]
    total: int


LimitWon = Annotated[int, Field(ge=1, le=10**15)] | None
LimitMinutes = Annotated[int, Field(ge=1, le=7 * 24 * 60)] | None


class LimitsRequest(Strict):
    """Limits to set; a field left out is unchanged, ``null`` removes the limit. Setting or
    lowering applies at once; raising or removing after the cooling period."""

    deposit_day: LimitWon = None
    deposit_week: LimitWon = None
    deposit_month: LimitWon = None
    loss_day: LimitWon = None
    loss_week: LimitWon = None
    loss_month: LimitWon = None
    session_minutes: LimitMinutes = None
    reality_check_minutes: Annotated[int, Field(ge=1, le=24 * 60)] | None = Field(
        None, description="Minutes of play between reality checks (applies at once)"
    )


class ExclusionRequest(Strict):
    period: Literal["24h", "7d", "30d", "6m", "1y", "5y", "permanent"] = Field(
        description="A break (24h, 7d, 30d) or a self-exclusion (6m, 1y, 5y, permanent)"
    )


class ExtendExclusionRequest(Strict):
    # JSON has no datetime type: an ISO 8601 string with its offset is the one form accepted.
    until: Annotated[AwareDatetime, Field(strict=False)] | None = Field(
        description="The new end, ISO 8601 with an offset (later than the current); null: permanent"
    )
    reason: Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f]{3,500}$")]


class PendingLimitOut(BaseModel):
    value: int | None = Field(description="The new value (null: the limit is removed)")
    effective_at: datetime


class WindowFiguresOut(BaseModel):
    day: int
    week: int
    month: int


class ProtectionOut(BaseModel):
    deposit_day: int | None
    deposit_week: int | None
    deposit_month: int | None
    loss_day: int | None
    loss_week: int | None
    loss_month: int | None
    session_minutes: int | None
    reality_check_minutes: int
    pending: dict[str, PendingLimitOut] = Field(
        description="Raises and removals waiting for the cooling period"
    )
    exclusion: Literal["break", "self_exclusion"] | None = Field(
        description="The break or self-exclusion running now, if any"
    )
    excluded_until: datetime | None
    permanent: bool
    deposited: WindowFiguresOut = Field(description="Deposits credited as playable, KRW")
    net_result: WindowFiguresOut = Field(description="Net result at tables (rake included)")
    locked: int = Field(description="Locked funds: withdrawable, not playable")


class ProfileOut(BaseModel):
    user: UserOut
    balance: BalanceOut
    vip: VipOut


class StatementLineOut(BaseModel):
    id: int
    transaction_id: int
    kind: str = Field(
        description="crypto_deposit, crypto_withdrawal, buy_in, cash_out, win, lose, "
        "rakeback, adjustment"
    )
    account: str = Field(description="wallet, pending_withdrawal, locked or seat")
    table_id: int | None
    amount_krw: int = Field(description="Signed: credit > 0, debit < 0")
    balance_after: int
    created_at: datetime
    completed_at: datetime | None
    details: dict[str, Any] = Field(
        description="Crypto details (coin, crypto_amount, rate '1 BTC = X KRW', tx_hash, "
        "address) or the reason of an adjustment"
    )


class StatementPage(BaseModel):
    items: list[StatementLineOut]
    next_cursor: str | None


# --- lobby ------------------------------------------------------------------------------


class TableOut(BaseModel):
    id: int
    name: str
    small_blind: int
    big_blind: int
    max_seats: int
    seated: int
    free_seats: int
    waiting: int = Field(description="Players on the table's wait list")
    min_buy_in: int
    max_buy_in: int
    rake_rate_bps: int
    rake_cap: int
    status: str
    created_at: datetime


class TablePage(BaseModel):
    items: list[TableOut]
    next_cursor: str | None


class SeatOut(BaseModel):
    seat_no: int
    user_id: int
    nickname: str
    sat_at: datetime


class TableDetailOut(BaseModel):
    table: TableOut
    seats: list[SeatOut]


class CreateTableRequest(Strict):
    name: TableName
    small_blind: PositiveWon
    big_blind: PositiveWon
    max_seats: Annotated[int, Field(ge=2, le=9)]
    min_buy_in: PositiveWon | None = Field(None, description="Default: 40 big blinds")
    max_buy_in: PositiveWon | None = Field(None, description="Default: 100 big blinds")
    rake_rate_bps: Annotated[int, Field(ge=0, le=10_000)] | None = Field(
        None, description="Default: SPEC §4.1 by stakes"
    )
    rake_cap: Won | None = Field(None, description="Default: SPEC §4.1 by stakes")


# --- hand history -----------------------------------------------------------------------


class HandSummaryOut(BaseModel):
    hand_id: int
    table_id: int
    hand_no: int
    started_at: datetime
    ended_at: datetime
    small_blind: int
    big_blind: int
    board: str
    total_pot: int
    rake: int
    seat_no: int
    hole_cards: str = Field(description="Your own hole cards")
    net: int = Field(description="Your result in this hand, KRW")


class HandPage(BaseModel):
    items: list[HandSummaryOut]
    next_cursor: str | None


class HandPlayerOut(BaseModel):
    seat_no: int
    user_id: int
    nickname: str
    hole_cards: str | None = Field(description="Only yours, and those shown at showdown")
    shown: bool
    net: int


class HandEventOut(BaseModel):
    seq_no: int
    type: str
    seat_no: int | None
    payload: dict[str, Any]


class OpeningOut(BaseModel):
    """One card opened against the deck commitment (docs/engine/evaluator-and-shuffle.md)."""

    position: int = Field(description="The card's position in the deck")
    card: str = Field(description="The card, e.g. As")
    nonce: str = Field(description="The card's 32-byte nonce, hex")
    proof: list[str] = Field(description="Merkle proof: sibling hashes from the leaf up, hex")


class WinnerOut(BaseModel):
    seat: int
    amount: int = Field(description="Chips won from the pot, after rake")


class PotOut(BaseModel):
    """A pot, in the shape the table servers send it (docs/protocol.md, "Pots")."""

    amount: int = Field(description="Chips in the pot before rake")
    eligible: list[int] = Field(description="Seats that could win it")
    rake: int
    winners: list[WinnerOut]


class HandDetailOut(BaseModel):
    hand: HandSummaryOut
    button_seat: int
    deck_commitment: str = Field(
        description="Merkle root over every dealt position, published at the start (hands "
        "dealt before per-card commitments: sha256 of the seed)"
    )
    openings: list[OpeningOut] = Field(
        description="Openings of the cards you may see: your hole cards, the board, cards "
        "shown at showdown (none for hands dealt before per-card commitments)"
    )
    pots: list[PotOut]
    players: list[HandPlayerOut]
    events: list[HandEventOut]


# --- admin ------------------------------------------------------------------------------


class AdjustmentRequest(Strict):
    amount_krw: Annotated[int, Field(ge=-(10**12), le=10**12)] = Field(
        description="Credit (> 0) or debit (< 0) of the player's wallet, KRW; not 0"
    )
    reason: Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f]{3,500}$")]


class AdjustmentOut(BaseModel):
    transaction_id: int
    user_id: int
    amount_krw: int
    wallet_after: int | None
    replayed: bool = Field(description="True when the Idempotency-Key was already used")
    created_at: datetime


Reason = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f]{3,500}$")]


class ChatMuteRequest(Strict):
    minutes: Annotated[int, Field(ge=1, le=30 * 24 * 60)] = Field(
        description="How long the player may not chat, at any table (at most 30 days)"
    )
    reason: Reason


class ChatUnmuteRequest(Strict):
    reason: Reason


class ChatMuteOut(BaseModel):
    user_id: int
    muted_until: datetime | None = Field(description="When the mute ends; null: not muted")


class ChatLineOut(BaseModel):
    user_id: int
    seat: int | None = Field(description="The sender's seat; null for a spectator")
    text: str = Field(description="As delivered (blocked words masked); plain text")
    at: float = Field(description="When the table took the line (epoch seconds)")
    original: str | None = Field(None, description="As typed, when a blocked word was masked")


class HandChatOut(BaseModel):
    hand_id: int
    table_id: int
    hand_no: int
    archived: bool = Field(description="Read back from the S3 archive")
    lines: list[ChatLineOut] = Field(
        description="The table's chat from the end of the previous hand to this one's end"
    )


class HandVerificationOut(BaseModel):
    hand_id: int
    table_id: int
    hand_no: int
    archived: bool = Field(description="Read back from the S3 archive")
    ok: bool = Field(description="The seed explains the commitment and every recorded card")
    scheme: Literal["cards", "seed"] | None = Field(
        description="cards: per-card commitment; seed: an older hand that published "
        "sha256(seed); null: the seed produces neither"
    )
    cards_checked: int = Field(description="Recorded cards compared: hole cards, board, shown")
    openings_checked: int = Field(description="Recorded openings compared with the deal")
    problems: list[str] = Field(description="What did not match (positions, never cards)")


class WithdrawalOut(BaseModel):
    id: int
    user_id: int
    amount_krw: int
    coin: str
    address: str
    crypto_amount: str | None
    status: str
    due_at: datetime
    created_at: datetime


class WithdrawalPage(BaseModel):
    items: list[WithdrawalOut]
    next_cursor: str | None


class HealthOut(BaseModel):
    status: str


_ERROR_TEXT = {
    400: "Invalid value (see error.code)",
    401: "Missing, invalid, expired or revoked credentials",
    403: "Not allowed (e.g. operators only, account locked)",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "The body is too large",
    422: "The request does not match the schema",
    429: "Rate limited; see the Retry-After header",
    503: "A dependency is unavailable (e.g. no fresh exchange rate); retry later",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses, all with the envelope."""
    return {
        status: {"model": ErrorEnvelope, "description": _ERROR_TEXT[status]} for status in statuses
    }
