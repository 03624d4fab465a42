"""Settings, read once from the environment (pydantic-settings).

Top-level names read plain environment variables (``DATABASE_URL``, ``REDIS_URL``, ``RUNTIME``);
groups read ``GROUP__FIELD`` (e.g. ``DB__POOL_SIZE=20``, ``WS__MAX_CONNECTIONS=800``).
Every default is the one SPEC.md names.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabasePool(BaseModel):
    """SQLAlchemy pool of a long-running server (SPEC §7). A Lambda keeps one connection
    (pool_size 1) and the same overflow, pre-ping and timeouts."""

    pool_size: int = 50
    max_overflow: int = 30
    pool_timeout: float = 30.0
    pool_recycle: int = 1800
    pool_pre_ping: bool = True
    # Pre-ping only a connection that sat in the pool at least this long (0: every checkout).
    # A busy server reuses its connections within milliseconds: a ping per checkout would be
    # one more round trip per request for connections that were just seen working.
    pool_pre_ping_idle_s: float = 1.0
    statement_timeout_ms: int = 30_000
    login_reread_s: float = 10.0
    """When PostgreSQL refuses the password (a scheduled rotation changed it), the login is read
    again from its secret at most once per this many seconds per process."""


class RedisPool(BaseModel):
    """redis-py connection pool (SPEC §7)."""

    max_connections: int = 100
    socket_timeout: float = 5.0
    socket_connect_timeout: float = 5.0
    retry_on_timeout: bool = True
    health_check_interval: int = 30


class WebSocketLimits(BaseModel):
    """Table-server connection limits and fleet timings (SPEC §5)."""

    max_connections: int = 600
    max_connections_per_user: int = 3
    max_frame_bytes: int = 64 * 1024
    messages_per_second: float = 20.0
    message_burst: int = 40
    idle_timeout_s: float = 60.0
    worker_heartbeat_ttl_s: int = 30
    worker_heartbeat_interval_s: float = 5.0
    table_lease_ttl_s: float = 3.0
    shutdown_drain_s: float = 90.0
    auth_timeout_s: float = 10.0
    lobby_interval_s: float = 1.0
    """A table publishes its live lobby figures, and a server sends its lobby subscribers
    the changes, at most once per interval (a busy table never floods the lobby)."""


class GameSettings(BaseModel):
    """Table defaults (SPEC §4)."""

    action_clock_s: float = 20.0
    time_bank_s: float = 30.0
    timeouts_before_sit_out: int = 3
    min_buy_in_bb: int = 40
    max_buy_in_bb: int = 100
    rathole_window_s: int = 2 * 3600
    """The rathole rule (SPEC §10): a player who cashes out and sits again at the same stakes
    within this many seconds must buy in for at least the stack they left with (0: off)."""
    rathole_capped_at_max_buy_in: bool = False
    """Ask at most the table's maximum buy-in of a returning player (some rooms do); by
    default a player who left with more than the maximum cannot sit at these stakes until
    the window has passed."""
    reconnect_grace_s: float = 30.0
    """Disconnect protection (SPEC §10, which names no figure): a disconnected player's turn
    gets this on top of the action clock, spent before the time bank; per hand."""
    takeover_min_clock_s: float = 10.0
    """After a takeover or a restore of a table (its server died, was stopped, or lost Redis),
    the player to act has at least this much clock left: the new owner re-announces the turn
    with a fresh deadline, never taken from the time bank (SPEC §11: a server fault never
    costs a player a decision)."""
    between_hands_s: float = 2.0
    wait_list_offer_s: float = 30.0
    """How long a seat that opened at a full table is reserved for the first player on its
    wait list (``seat_offered``) before it is offered to the next (SPEC §10)."""
    wait_list_max: int = Field(50, ge=1, le=1000)
    """The most players on one table's wait list (``wait_list_full`` beyond)."""


class MoneySettings(BaseModel):
    """Currency, coins and payment limits (SPEC §3). All configurable for each jurisdiction."""

    currency: str = "KRW"
    coins: tuple[str, ...] = ("BTC", "ETH", "USDT", "USDC")
    min_confirmations: dict[str, int] = Field(
        default_factory=lambda: {"BTC": 3, "ETH": 12, "USDT": 12, "USDC": 12}
    )
    min_withdrawal_krw: int = 10_000
    withdrawal_delay_s: int = 24 * 3600
    auto_approve_limit_krw: int = 1_000_000
    allow_withdrawal_cancel: bool = False
    kyc_required_above_krw: int = 5_000_000
    """KYC gate (SPEC §10): once a player's withdrawals (every one not rejected, cancelled or
    failed, this one included) add up to more than this, the withdrawal waits for
    ``kyc_status = verified`` (`holdem.services.kyc`)."""
    rate_cache_ttl_s: int = 60
    """A cached rate is refreshed from the providers once it was fetched this long ago."""
    rate_max_age_s: int = 300
    """A quote older than this (by the provider's own timestamp) is never used."""
    rate_refresh_wait_s: float = 0.5
    """How long a refresh may hold up a caller while the cached quote is still usable; keep
    it below the deposit webhook's 1 s rate budget."""
    webhook_replay_window_s: int = 300
    webhook_secret: SecretStr = SecretStr("")
    webhook_source_cidrs: tuple[str, ...] = ()
    """Addresses the gateway calls back from (``MONEY__WEBHOOK_SOURCE_CIDRS``, a JSON list);
    a delivery from elsewhere is refused before its signature is checked. Empty: any."""
    address_network: Literal["mainnet", "testnet"] = "mainnet"
    require_eip55_checksum: bool = False
    gateway_base_url: str = "https://api.nowpayments.io"
    gateway_api_key: SecretStr = SecretStr("")
    gateway_email: str = ""
    gateway_password: SecretStr = SecretStr("")
    deposit_callback_url: str = ""
    payout_callback_url: str = ""
    rate_providers: tuple[str, ...] = ("upbit", "coingecko")
    upbit_base_url: str = "https://api.upbit.com"
    coingecko_base_url: str = "https://api.coingecko.com"
    payout_max_attempts: int = 5
    payout_retry_base_s: int = 60
    notification_sender: str = "no-reply@holdem.example"
    rakeback_window_days: int = 30
    rakeback_rates: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "bronze": Decimal("0.20"),
            "silver": Decimal("0.25"),
            "gold": Decimal("0.30"),
            "platinum": Decimal("0.35"),
            "diamond": Decimal("0.40"),
        }
    )


class ProtectionSettings(BaseModel):
    """Player protection (docs/compliance.md): limits, breaks, reality checks."""

    limit_cooling_s: int = 24 * 3600
    """How long a raised or removed limit waits before it applies (tightening is at once)."""
    reality_check_minutes: int = 60
    """The reality-check interval of a player who has not chosen one."""
    session_break_s: int = 15 * 60
    """A break from every table shorter than this does not end a session (session limit)."""


class KycSettings(BaseModel):
    """The identity-verification provider (SPEC §10; docs/compliance.md, "KYC")."""

    provider_base_url: str = "https://kyc.example"
    provider_api_key: SecretStr = SecretStr("")
    """Unset: no provider; operators set each status themselves, and players cannot start a
    verification online (``kyc_provider_not_configured``)."""
    webhook_secret: SecretStr = SecretStr("")
    """Signs the provider's status callbacks (HMAC-SHA512, as the payment gateway's)."""
    webhook_replay_window_s: int = 300
    callback_url: str = ""
    """Where the provider sends its status callbacks (``POST /api/v1/kyc/webhook``)."""


AmlRuleName = Literal[
    "large_deposit",
    "large_withdrawal",
    "structuring",
    "little_play",
    "shared_address",
    "shared_identity",
    "chip_dumping",
    "soft_play",
    "bot_timing",
]
"""The rules of `holdem.ledger.aml.AmlRule`, by name (a typo in a setting is refused); the
last four are the integrity signals (docs/integrity.md)."""


class AmlSettings(BaseModel):
    """AML rules evaluated when money moves (docs/compliance.md, "AML flags")."""

    large_amount_krw: int = 10_000_000
    """A deposit or withdrawal of at least this much is flagged (``large_deposit`` /
    ``large_withdrawal``); also the threshold that structuring stays under."""
    structuring_count: int = 3
    """This many deposits just under `large_amount_krw` within the window: ``structuring``."""
    structuring_band_pct: int = 10
    """"Just under": within this percentage below `large_amount_krw`."""
    structuring_window_s: int = 24 * 3600
    little_play_rake_pct: Decimal = Decimal("2")
    """A withdrawal after deposits on which less than this percentage was paid in rake
    (deposits and rake over the lookback): ``little_play``."""
    little_play_lookback_s: int = 30 * 24 * 3600
    little_play_min_withdrawal_krw: int = 1_000_000
    """Smaller withdrawals are not checked for little play."""
    hold_rules: tuple[AmlRuleName, ...] = ("structuring",)
    """While the player has an open flag of one of these rules, a new withdrawal is held for
    an operator (status ``held``). ``shared_address`` only flags by default: relatives and
    custodial addresses share one legitimately, and each hold waits for a person."""


class IntegritySettings(BaseModel):
    """The integrity signals over stored hands and logins (docs/integrity.md)."""

    window_days: int = Field(7, ge=1, le=7)
    """Each run reads the hands that ended in this many days before it (at most 7: older
    hands are archived to S3 and not read)."""
    block_shared_identity_at_sit: bool = False
    """Refuse a ``sit`` (``shared_identity``) when a player seated at the table shares the
    newcomer's IP address or device id; the daily run flags such pairs either way."""
    identity_lookback_s: int = 24 * 3600
    """A player's addresses and devices are those of their logins in this long before."""
    trusted_proxy_hops: int = Field(0, ge=0, le=5)
    """Proxies in front of the table servers that append to ``X-Forwarded-For`` (the ALB:
    1). 0 takes the connection's own remote address; N takes the N-th address from the
    right of the header (what the outermost trusted proxy saw), never one the client wrote."""
    dump_min_transfer_bb: int = 150
    """Chip dumping: the net transfer from one player to another over the window, in big
    blinds of the hands it happened in, at least this much ..."""
    dump_min_one_way_pct: int = 75
    """... at least this share of everything that passed between them went one way ..."""
    dump_min_suspect_hands: int = 3
    """... at least this many hands show a dump: the loser folded to the winner's bet or
    raise holding the better hand (against the winner's cards), on the turn or river, or on
    the flop with only the two of them left ..."""
    dump_min_fold_ahead_pct: int = 30
    """... and those folds are at least this percentage of the times the loser faced the
    winner's bet there (random folding gives away the better hand now and then, a dumper
    every time)."""
    soft_min_hands: int = 40
    """Soft play: a pair in at least this many hands together ..."""
    soft_min_heads_up: int = 15
    """... deciding at least this many times with only the two of them left in the hand ..."""
    soft_max_ratio_pct: int = 25
    """... whose bet-or-raise rate against each other is at most this percentage of their
    rate against everyone else (heads-up decisions too) ..."""
    soft_min_other_rate_pct: int = 15
    """... while against the others they bet or raise at least this often ..."""
    soft_max_p_value: Decimal = Decimal("0.000001")
    """... and so few bets and raises at their usual rate would happen by chance at most this
    often (binomial tail): small samples of cautious play do not fire."""
    timing_min_actions: int = 60
    """Bot-like timing: a player with at least this many timed decisions ..."""
    timing_max_cv_pct: int = 10
    """... whose decision times' standard deviation is at most this percentage of their
    mean (people vary far more: tens of percent and up)."""
    max_hands_cited: int = 20
    """Hand ids cited per flag (the first ones; the count covers them all)."""


class ChatSettings(BaseModel):
    """Table chat and its moderation (docs/protocol.md, "Table chat")."""

    enabled: bool = True
    """Off: every ``chat`` is refused (``chat_disabled``)."""
    spectators_may_chat: bool = False
    """Spectators read the chat; with this on they may write too."""
    off_in_hand: bool = False
    """Players dealt into the running hand may not chat until it ends (``chat_off_in_hand``);
    the others at the table (players not dealt in, spectators allowed to chat) still may."""
    max_length: int = Field(200, ge=1, le=1000)
    """Characters per line, after control characters are removed (``chat_too_long``)."""
    lines_per_window: int = Field(5, ge=1)
    """A user may say at most this many lines ..."""
    window_s: float = Field(10.0, gt=0)
    """... in this many seconds at one table (``chat_rate_limited``)."""
    blocked_words: tuple[str, ...] = ()
    """Words masked with ``*`` wherever they occur as a whole word, ignoring case (the line is
    still delivered: refusing it would teach the sender the list)."""
    max_mutes: int = Field(200, ge=1)
    """The most users one player may mute (``mute_list_full``)."""
    lines_kept_per_hand: int = Field(200, ge=0)
    """Chat lines kept with a hand's record for disputes (the latest ones when more)."""


class JurisdictionSettings(BaseModel):
    """Where players may play from, and how old they must be (docs/compliance.md)."""

    blocked_countries: tuple[str, ...] = ()
    """ISO 3166-1 alpha-2 codes refused at registration and login."""
    trust_country_header: bool = False
    """Read the caller's country from ``CloudFront-Viewer-Country`` (set only behind
    CloudFront, which overwrites it); otherwise every caller is in `default_country`."""
    default_country: str = ""
    """The country when the header is not trusted or absent (local runs); empty: unknown."""
    refuse_unknown_country: bool = False
    """With blocked countries set, refuse callers whose country is unknown."""
    minimum_age: int = 18
    """Years, checked against the date of birth at registration. SPEC names no figure: 18
    here; a jurisdiction with another age sets it (Korea's Youth Protection Act: 19)."""


class RateLimits(BaseModel):
    """REST rate limits per client, shared through Redis (SPEC §6)."""

    default_per_minute: int = 100
    login_per_minute: int = 5
    register_per_minute: int = 3
    withdraw_per_hour: int = 10


class AuthSettings(BaseModel):
    """Tokens. The signing key comes from the environment or Secrets Manager, never the repo."""

    jwt_secret: SecretStr = SecretStr("")
    jwt_algorithm: Literal["HS256"] = "HS256"
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    # argon2id cost (OWASP password storage cheat sheet: m=19 MiB, t=2, p=1 at least).
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19 * 1024
    argon2_parallelism: int = 1
    # Hashes computed at once per process: each holds argon2_memory_kib and a core.
    argon2_max_concurrency: int = 2


class AwsSettings(BaseModel):
    """AWS resources. `endpoint_url` points every client at moto in the local stack."""

    region: str = "ap-northeast-2"
    endpoint_url: str | None = None
    archive_bucket: str = "holdem-hand-archive"
    audit_bucket: str = "holdem-audit"
    payout_queue_url: str | None = None
    rakeback_queue_url: str | None = None
    notification_queue_url: str | None = None


class Settings(BaseSettings):
    """All settings of a process."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    runtime: Literal["server", "lambda"] = "server"
    environment: str = "dev"
    log_level: str = "INFO"
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/holdem"
    redis_url: str = "redis://127.0.0.1:6379/0"
    sentry_dsn: SecretStr | None = None
    secret_references: dict[str, str] = Field(default_factory=dict)
    """What each variable resolved from Secrets Manager held before (``SECRET_REFERENCES``,
    written by `holdem.adapters.secret_refs`): a secret can be read again."""
    db: DatabasePool = DatabasePool()
    redis: RedisPool = RedisPool()
    ws: WebSocketLimits = WebSocketLimits()
    game: GameSettings = GameSettings()
    money: MoneySettings = MoneySettings()
    kyc: KycSettings = KycSettings()
    aml: AmlSettings = AmlSettings()
    integrity: IntegritySettings = IntegritySettings()
    chat: ChatSettings = ChatSettings()
    jurisdiction: JurisdictionSettings = JurisdictionSettings()
    rate_limits: RateLimits = RateLimits()
    protection: ProtectionSettings = ProtectionSettings()
    auth: AuthSettings = AuthSettings()
    aws: AwsSettings = AwsSettings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()
