"""Configuration from environment variables (and an optional ``.env`` file).

The variable names are the ones operators know from the README (``DATABASE_URL``,
``LAZADA_APP_KEY``...), so there is no prefix on them; tunables of our own start with
``ORDERSYNC_``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.crypto import parse_key
from app.kit.priority import Priority

LAZADA_COUNTRIES = ("sg", "my", "vn", "th", "ph", "id")

# `ordersync demo`'s credentials. They are published here, so they are accepted only there.
DEMO_LAZADA_APP_KEY = "demo-app-key"
DEMO_LAZADA_APP_SECRET = "demo-app-secret"
DEMO_API_TOKEN = "demo-token-change-me"
DEMO_ENCRYPTION_KEY = "ZGVtby1vbmx5LWtleS1kby1ub3QtdXNlLWluLXByb2Q="
DEMO_VALUES = frozenset(
    {DEMO_LAZADA_APP_KEY, DEMO_LAZADA_APP_SECRET, DEMO_API_TOKEN, DEMO_ENCRYPTION_KEY}
)
# The stand-ins in .env.example and README. A service started with one of them is open to
# anyone who read them (`.env.example`'s admin token used to work as-is).
PLACEHOLDERS = frozenset(
    {
        "your-app-key",
        "your-app-secret",
        "change-me-to-a-long-random-token",
        "your-key",
        "your-secret",
        "a-long-random-token",
        "your-fernet-key",
    }
)
MIN_API_TOKEN_LENGTH = 16

# Per seller account, (calls a second, burst): the defaults of ORDERSYNC_<MARKETPLACE>_RATE and
# _BURST. Shoplazza's and Newegg's are documented (shoplazza_newegg.md A5: 2 a second per app
# and store; B4: Cancel Order 1000 an hour per seller, hence 0.28 a second with a small burst).
# Lazada publishes no per-second figure for its order APIs (lazada.md §5); 10 a second per
# seller keeps a mega-sale backlog moving, and its throttling answers (ApiCallLimit, 901) hold
# the seller's bucket when that is too fast.
DEFAULT_RATE_LIMITS: dict[str, tuple[float, float]] = {
    "lazada": (10.0, 20.0),
    "shoplazza": (2.0, 1.0),
    "newegg": (1000 / 3600, 10.0),
}
MAKE_A_TOKEN = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


def is_placeholder(value: str, *, demo: bool = False) -> bool:
    """A published stand-in rather than a secret: README's and .env.example's, anything that
    asks to be changed, and the demo's credentials anywhere but in the demo."""
    if value in DEMO_VALUES:
        return not demo
    lowered = value.strip().lower()
    return (
        lowered in PLACEHOLDERS
        or "change-me" in lowered
        or "changeme" in lowered
        or lowered.startswith(("your-", "your_", "<"))
    )


class DatabaseSettings(BaseSettings):
    """What every command needs: where the database is."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, populate_by_name=True
    )

    database_url: str | None = Field(
        default=None,
        description="Postgres URL. Unset: an embedded Postgres under ORDERSYNC_DATA_DIR.",
    )
    data_dir: Path = Field(
        default=Path(".ordersync"),
        validation_alias=AliasChoices("ORDERSYNC_DATA_DIR"),
        description="Local state that must survive restarts: the webhook's spool, and the "
        "embedded Postgres when DATABASE_URL is unset.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", validation_alias=AliasChoices("ORDERSYNC_LOG_LEVEL")
    )
    log_json: bool = Field(default=False, validation_alias=AliasChoices("ORDERSYNC_LOG_JSON"))

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValueError("must be a postgresql:// URL")
        return value


class EncryptionSettings(DatabaseSettings):
    """What every command that reads or writes marketplace credentials needs."""

    # True only for `ordersync demo` (app/demo.py), the one place its published secrets belong.
    demo: ClassVar[bool] = False

    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(
        validation_alias=AliasChoices("ORDERSYNC_ENCRYPTION_KEYS"),
        description="Comma-separated Fernet keys: the first encrypts credentials, all decrypt.",
    )

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        if not value:
            raise ValueError("needs at least one key (`ordersync secrets generate-key` makes one)")
        for position, key in enumerate(value, start=1):
            try:
                parse_key(key.get_secret_value())
            except ValueError:
                raise ValueError(
                    f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes: "
                    "`ordersync secrets generate-key` makes one)"
                ) from None
        # Reading with a published key harms no one; encrypting with it would. So it may stay
        # after a key of your own until `ordersync secrets rotate` has re-encrypted its rows.
        if is_placeholder(value[0].get_secret_value(), demo=cls.demo):
            raise ValueError(
                "key 1 is the demo's published key: make your own with `ordersync secrets "
                "generate-key` and put it first (keep the demo's after it until `ordersync "
                "secrets rotate` has run, if it encrypted anything)"
            )
        return value

    @property
    def encryption_key_values(self) -> list[str]:
        return [key.get_secret_value() for key in self.encryption_keys]


class Settings(EncryptionSettings):
    """Everything the API and the worker need."""

    lazada_app_key: str = Field(min_length=1)
    lazada_app_secret: SecretStr
    lazada_api_base: str | None = Field(
        default=None, description="Overrides every country gateway, e.g. a sandbox's /rest URL."
    )
    lazada_auth_base: str = Field(
        default="https://auth.lazada.com/rest", description="Gateway for token refresh."
    )
    shoplazza_api_base: str | None = Field(
        default=None, description="Replaces https://{shop_domain} for every shop (a sandbox)."
    )
    newegg_api_base: str | None = Field(
        default=None, description="Replaces https://api.newegg.com (paths keep /marketplace)."
    )
    api_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("ORDERSYNC_API_TOKENS"),
        description="Comma-separated bootstrap admin tokens for /v1 (every scope); optional: "
        "scoped keys come from `ordersync api-keys create`.",
    )
    worker_concurrency: int = Field(
        default=8, ge=1, le=256, validation_alias=AliasChoices("ORDERSYNC_WORKER_CONCURRENCY")
    )
    worker_priority: Priority = Field(
        default="idle",
        validation_alias=AliasChoices("ORDERSYNC_WORKER_PRIORITY"),
        description="CPU priority `ordersync worker` takes (app/kit/priority.py): `idle` runs "
        "only on CPU time nothing else wants, `low` is nice 10. On a machine shared with the "
        "API the webhook's acks come first; on a machine of its own it changes nothing.",
    )
    sync_delay: float = Field(
        default=1.0,
        ge=0,
        le=60,
        validation_alias=AliasChoices("ORDERSYNC_SYNC_DELAY"),
        description="Seconds a push-triggered sync waits before it may start. Lazada pushes "
        "each order line on its own (and close status changes a second apart): the pushes "
        "that arrive meanwhile join the waiting sync instead of causing another fetch.",
    )
    sync_batch_threshold: int = Field(
        default=4,
        ge=0,
        le=50,
        validation_alias=AliasChoices("ORDERSYNC_SYNC_BATCH_THRESHOLD"),
        description="An account with more orders due than this is synced in batches (Lazada "
        "GetMultipleOrderItems, 50 orders a call) instead of order by order (2 calls each).",
    )
    sync_slice: float = Field(
        default=5.0,
        gt=0,
        le=300,
        validation_alias=AliasChoices("ORDERSYNC_SYNC_SLICE"),
        description="How long one account's sync runs before it yields its worker slot to "
        "other accounts (it queues its own continuation): one seller's backlog cannot hold "
        "the workers while another seller waits.",
    )
    sync_max_attempts: int = Field(
        default=6, ge=1, le=50, validation_alias=AliasChoices("ORDERSYNC_SYNC_MAX_ATTEMPTS")
    )
    retry_base_delay: float = Field(
        default=2.0, gt=0, le=600, validation_alias=AliasChoices("ORDERSYNC_RETRY_BASE_DELAY")
    )
    retry_max_delay: float = Field(
        default=300.0, gt=0, validation_alias=AliasChoices("ORDERSYNC_RETRY_MAX_DELAY")
    )
    job_heartbeat_timeout: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices("ORDERSYNC_JOB_HEARTBEAT_TIMEOUT"),
        description="A picked job whose worker has been silent this long is run again.",
    )
    sweep_interval: float = Field(
        default=10.0,
        gt=0,
        validation_alias=AliasChoices("ORDERSYNC_SWEEP_INTERVAL"),
        description="How often the worker looks for pushes whose work never got queued.",
    )
    sweep_age: float = Field(
        default=60.0,
        gt=0,
        validation_alias=AliasChoices("ORDERSYNC_SWEEP_AGE"),
        description="How long a push may wait before the sweeper queues its work again.",
    )
    http_timeout: float = Field(
        default=10.0, gt=0, validation_alias=AliasChoices("ORDERSYNC_HTTP_TIMEOUT")
    )
    reconcile_interval: float = Field(
        default=6 * 3600.0,
        gt=0,
        validation_alias=AliasChoices("ORDERSYNC_RECONCILE_INTERVAL"),
        description="How often each Lazada account's recently updated orders are pulled.",
    )
    reconcile_overlap: float = Field(
        default=600.0,
        ge=0,
        validation_alias=AliasChoices("ORDERSYNC_RECONCILE_OVERLAP"),
        description="How far back the next pull starts before the last one ended.",
    )
    token_refresh_ahead: float = Field(
        default=3600.0,
        gt=0,
        validation_alias=AliasChoices("ORDERSYNC_TOKEN_REFRESH_AHEAD"),
        description="Refresh an access token when it expires within this many seconds.",
    )
    cancel_call_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        validation_alias=AliasChoices("ORDERSYNC_CANCEL_CALL_ATTEMPTS"),
        description="Calls to a marketplace's cancel endpoint per request, state checked between.",
    )
    cancel_poll_interval: float = Field(
        default=60.0,
        gt=0,
        validation_alias=AliasChoices("ORDERSYNC_CANCEL_POLL_INTERVAL"),
        description="How often a processing cancellation (Newegg SBN) is checked again.",
    )
    cancel_poll_max: int = Field(
        default=1440,
        ge=1,
        validation_alias=AliasChoices("ORDERSYNC_CANCEL_POLL_MAX"),
        description="Checks before a processing cancellation is given up as failed.",
    )
    spool_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("ORDERSYNC_SPOOL_DIR"),
        description="Where pushes wait while the database is down (default: DATA_DIR/spool).",
    )
    webhook_db_timeout: float = Field(
        default=0.2,
        gt=0,
        le=0.45,
        validation_alias=AliasChoices("ORDERSYNC_WEBHOOK_DB_TIMEOUT"),
        description="How long a push may wait for the database before it is spooled. Lazada "
        "wants the 200 within 500 ms; the rest is the spool's fsync, which waits behind "
        "everything else the disk flushes (Postgres's own recovery, when it shares the disk).",
    )
    loop_down_grace: float = Field(
        default=300.0,
        gt=0,
        validation_alias=AliasChoices("ORDERSYNC_LOOP_DOWN_GRACE"),
        description="/healthz fails once a background loop has been down this long, so that "
        "an orchestrator restarts the process as a last resort.",
    )
    loop_restart_max_delay: float = Field(
        default=10.0,
        gt=0,
        le=600,
        validation_alias=AliasChoices("ORDERSYNC_LOOP_RESTART_MAX_DELAY"),
        description="Longest pause before a failed background loop is started again "
        "(exponential backoff with jitter up to this).",
    )
    webhook_max_body: int = Field(
        default=64 * 1024, ge=1024, validation_alias=AliasChoices("ORDERSYNC_WEBHOOK_MAX_BODY")
    )
    lazada_rate: float = Field(
        default=DEFAULT_RATE_LIMITS["lazada"][0],
        gt=0,
        validation_alias=AliasChoices("ORDERSYNC_LAZADA_RATE"),
        description="Lazada calls a second per seller account, all processes together.",
    )
    lazada_burst: float = Field(
        default=DEFAULT_RATE_LIMITS["lazada"][1],
        ge=1,
        validation_alias=AliasChoices("ORDERSYNC_LAZADA_BURST"),
        description="Lazada calls a seller account may make at once after a quiet spell.",
    )
    lazada_app_rate: float | None = Field(
        default=None,
        gt=0,
        validation_alias=AliasChoices("ORDERSYNC_LAZADA_APP_RATE"),
        description="Lazada calls a second for the whole app, every seller and process "
        "together (Lazada meters apps too); unset: no limit per app.",
    )
    lazada_app_burst: float | None = Field(
        default=None,
        ge=1,
        validation_alias=AliasChoices("ORDERSYNC_LAZADA_APP_BURST"),
        description="Burst of the app's bucket; unset: one second's worth of its rate.",
    )
    shoplazza_rate: float = Field(
        default=DEFAULT_RATE_LIMITS["shoplazza"][0],
        gt=0,
        validation_alias=AliasChoices("ORDERSYNC_SHOPLAZZA_RATE"),
        description="Shoplazza calls a second per shop, all processes together.",
    )
    shoplazza_burst: float = Field(
        default=DEFAULT_RATE_LIMITS["shoplazza"][1],
        ge=1,
        validation_alias=AliasChoices("ORDERSYNC_SHOPLAZZA_BURST"),
    )
    newegg_rate_per_hour: float = Field(
        default=DEFAULT_RATE_LIMITS["newegg"][0] * 3600,
        gt=0,
        validation_alias=AliasChoices("ORDERSYNC_NEWEGG_RATE_PER_HOUR"),
        description="Newegg calls an hour per seller, all processes together (Newegg "
        "documents its limits per hour).",
    )
    newegg_burst: float = Field(
        default=DEFAULT_RATE_LIMITS["newegg"][1],
        ge=1,
        validation_alias=AliasChoices("ORDERSYNC_NEWEGG_BURST"),
    )

    @field_validator("lazada_api_base", "lazada_auth_base", "shoplazza_api_base", "newegg_api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/")

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_tokens")
    @classmethod
    def _unguessable(cls, value: list[SecretStr]) -> list[SecretStr]:
        for position, token in enumerate(value, start=1):
            secret = token.get_secret_value()
            if is_placeholder(secret, demo=cls.demo):
                raise ValueError(
                    f"token {position} is a published placeholder, which would let anyone in: "
                    f"make a random one, e.g. with {MAKE_A_TOKEN}"
                )
            if len(secret) < MIN_API_TOKEN_LENGTH:
                raise ValueError(
                    f"token {position} is too short (at least {MIN_API_TOKEN_LENGTH} "
                    f"characters): make a random one, e.g. with {MAKE_A_TOKEN}"
                )
        return value

    @field_validator("lazada_app_key", "lazada_app_secret")
    @classmethod
    def _real_app_credentials(cls, value: str | SecretStr) -> str | SecretStr:
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        if is_placeholder(plain, demo=cls.demo):
            raise ValueError(
                "is a placeholder: use your Lazada app's (Lazada Open Platform, App Management)"
            )
        return value

    @cached_property
    def api_token_values(self) -> frozenset[str]:
        return frozenset(token.get_secret_value() for token in self.api_tokens)

    @property
    def spool_directory(self) -> Path:
        return self.spool_dir or self.data_dir / "spool"

    @property
    def account_rate_limits(self) -> dict[str, tuple[float, float]]:
        """Per marketplace, (calls a second, burst) for each seller account."""
        return {
            "lazada": (self.lazada_rate, self.lazada_burst),
            "shoplazza": (self.shoplazza_rate, self.shoplazza_burst),
            "newegg": (self.newegg_rate_per_hour / 3600, self.newegg_burst),
        }

    @property
    def app_rate_limits(self) -> dict[str, tuple[float, float]]:
        """Per marketplace whose app is metered, (calls a second, burst) for the whole app."""
        if self.lazada_app_rate is None:
            return {}
        burst = self.lazada_app_burst or max(1.0, self.lazada_app_rate)
        return {"lazada": (self.lazada_app_rate, burst)}


_ENV_NAMES = {
    "database_url": "DATABASE_URL",
    "lazada_app_key": "LAZADA_APP_KEY",
    "lazada_app_secret": "LAZADA_APP_SECRET",
    "lazada_api_base": "LAZADA_API_BASE",
    "lazada_auth_base": "LAZADA_AUTH_BASE",
    "api_tokens": "ORDERSYNC_API_TOKENS",
    "encryption_keys": "ORDERSYNC_ENCRYPTION_KEYS",
    "shoplazza_api_base": "SHOPLAZZA_API_BASE",
    "newegg_api_base": "NEWEGG_API_BASE",
}


class ConfigError(Exception):
    """Configuration is missing or malformed; the message is safe to print (no values)."""


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad variable, naming it and the problem but never echoing its value."""
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        name = field if field.isupper() else _ENV_NAMES.get(field, field.upper())
        problem = "is required" if item["type"] == "missing" else item["msg"]
        lines.append(f"  {name}: {problem}")
    return "Invalid configuration:\n" + "\n".join(lines)


def load_settings() -> Settings:
    try:
        return Settings()  # type: ignore[call-arg,unused-ignore]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def load_encryption_settings() -> EncryptionSettings:
    try:
        return EncryptionSettings()  # type: ignore[call-arg,unused-ignore]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def load_database_settings() -> DatabaseSettings:
    try:
        return DatabaseSettings()
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
