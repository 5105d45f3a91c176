"""Typed settings read from ``FNGATE_*`` environment variables and ``fngate.toml``.

Precedence: explicit overrides > environment > ``fngate.toml`` > defaults. The
defaults need no outside service: no database URL means an embedded PostgreSQL,
no broker means queue triggers are reported unavailable.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DIALECT_NAMES",
    "RUNTIME_NAMES",
    "Settings",
    "SettingsError",
    "ensure_data_dir",
    "load",
    "load_or_create_secret",
    "parse_egress_allow",
]

_ENV_PREFIX = "FNGATE_"
#: The runtimes a share of the worker cap can name (executors.models.RUNTIMES; a unit
#: test keeps the two equal: config imports nothing of the executors).
RUNTIME_NAMES = ("python", "nodejs", "go", "rust")
#: The compatibility dialects ``FNGATE_DIALECTS`` can name (gateway.dialects.all_dialects(),
#: in its order; a unit test keeps the two equal: config imports nothing of the gateway).
DIALECT_NAMES = ("function-api", "kube-serverless", "project-functions", "function-service")
_DEPLOY_MANIFEST_KEYS = frozenset({"function", "functions"})


class SettingsError(ValueError):
    """A setting has a value fngate cannot use."""


def _default_data_dir() -> str:
    return "/var/lib/fngate" if os.geteuid() == 0 else "./.fngate"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Every knob of one gateway replica; built once by :func:`load` and passed down."""

    host: str = "127.0.0.1"
    port: int = 8080
    mode: str = "development"
    data_dir: str = field(default_factory=_default_data_dir)
    database_url: str | None = None
    amqp_url: str | None = None
    redis_url: str | None = None
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwks_url: str | None = None
    jwt_algorithms: tuple[str, ...] = ()
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    cors_origins: tuple[str, ...] = ()
    # Per route class, "authenticated|unauthenticated" in `limits` notation; "off" disables.
    rate_limits: str = (
        "execute=100/minute|10/minute; read=60/minute|10/minute; write=100/hour|10/minute"
    )
    metrics_token: str | None = None
    # The web console at /console (static files of the gateway package); off: not served.
    console: bool = True
    # The compatibility dialects served beside the native API (docs/compat.md): a comma
    # list of DIALECT_NAMES, "all" or "none".
    dialects: str = "all"
    max_body_bytes: int = 6 * 1024 * 1024
    session_ttl_s: int = 7200
    worker_idle_ttl_s: float = 300.0
    max_timeout_ms: int = 300_000
    max_memory_mb: int = 2048
    # "namespaces" (bubblewrap, pasta, a uid per worker) or, explicitly, "process".
    sandbox: str = "namespaces"
    worker_uid_range: str = "200000-265535"
    # CIDR[:port] entries every function may reach beside public addresses.
    function_egress_allow: tuple[str, ...] = ()
    max_ephemeral_storage_mb: int = 10240
    worker_user: str = "fngate-fn"
    callback_secret: str | None = None
    # Seals secrets at rest (gateway/core/secretbox.py); the previous key is still read
    # while stored values are re-encrypted with the current one.
    secret_key: str | None = field(default=None, repr=False)
    secret_key_previous: str | None = field(default=None, repr=False)
    allow_private_callbacks: bool = False
    # Outgoing webhook and callback deliveries: request timeout, first retry delay
    # (doubling up to 5 retries), and how often each replica looks for due ones.
    webhook_timeout_s: float = 10.0
    webhook_retry_backoff_s: float = 5.0
    webhook_poll_s: float = 1.0
    trusted_proxies: tuple[str, ...] = ()
    price_per_gb_s: float = 0.0000166667
    price_per_request: float = 0.0000002
    # Function logs: lines older than this many days, and per function all but the newest
    # this many lines, are pruned in the background; 0 turns a limit off.
    log_retention_days: float = 7.0
    log_retention_max_lines: int = 100_000
    # Finished jobs (success/failed) and their log lines: deleted once finished this many
    # days ago (fractions allowed), and per function beyond the newest this many. A job an
    # unexpired Idempotency-Key or an undelivered callback/webhook event needs is kept.
    job_retention_days: float = 7.0
    job_retention_per_function: int = 10_000
    # A sync invocation's job record is committed without waiting for PostgreSQL's WAL
    # flush (its caller already has the answer); true waits for the flush as every other
    # write does (async jobs, idempotency keys, queue and cron work always wait).
    durable_sync_records: bool = False
    # Seconds between maintenance rounds (the pruning above, idempotency keys, sessions,
    # logs) on each replica.
    maintenance_interval_s: float = 300.0
    # How often a log follower (?follow=true) polls for lines of other replicas, and how
    # long a quiet stream waits before a keep-alive comment.
    log_follow_poll_s: float = 1.0
    log_follow_keepalive_s: float = 15.0
    # Executor tuning (not in the public table; documented in README).
    prewarm_per_runtime: int = 2
    # Live worker and build processes of this replica at most (pre-started, warm, busy
    # workers and dependency installs or compiles alike);
    # None: derived from memory and cores (config/capacity.py).
    max_workers: int | None = None
    # "runtime=N" entries: at most N of those live workers are of that runtime (a share of
    # the cap); a runtime not named is held to the cap only.
    max_workers_per_runtime: tuple[str, ...] = ()
    max_log_bytes: int = 64 * 1024
    max_result_bytes: int = 6 * 1024 * 1024
    job_lease_s: float = 30.0
    job_heartbeat_s: float = 5.0
    job_poll_s: float = 2.0
    async_job_concurrency: int = 32
    retry_backoff_s: float = 1.0
    shutdown_grace_s: float = 10.0

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def worker_uids(self) -> tuple[int, int]:
        """``FNGATE_WORKER_UID_RANGE`` as (lowest, highest) uid."""
        return _parse_uid_range(self.worker_uid_range)

    @property
    def worker_shares(self) -> dict[str, int]:
        """``FNGATE_MAX_WORKERS_PER_RUNTIME`` as runtime → its most live workers."""
        return _parse_worker_shares(self.max_workers_per_runtime)

    @property
    def mounted_dialects(self) -> tuple[str, ...]:
        """``FNGATE_DIALECTS`` as the names of the dialects to serve, in DIALECT_NAMES order."""
        return _parse_dialects(self.dialects)

    @property
    def is_production(self) -> bool:
        return self.mode == "production"

    def effective_algorithms(self) -> tuple[str, ...]:
        """The pinned JWT algorithms: configured, else by the kind of key material."""
        if self.jwt_algorithms:
            return self.jwt_algorithms
        if self.jwt_public_key or self.jwks_url:
            return ("RS256",)
        return ("HS256",)


_INT_FIELDS = {
    f.name for f in dataclasses.fields(Settings) if f.type in ("int", "int | None")
}
_FLOAT_FIELDS = {f.name for f in dataclasses.fields(Settings) if f.type in ("float",)}
_BOOL_FIELDS = {f.name for f in dataclasses.fields(Settings) if f.type in ("bool",)}
_TUPLE_FIELDS = {f.name for f in dataclasses.fields(Settings) if f.type.startswith("tuple")}


def _coerce(name: str, raw: Any) -> Any:
    try:
        if name in _INT_FIELDS:
            return int(raw)
        if name in _FLOAT_FIELDS:
            return float(raw)
        if name in _BOOL_FIELDS:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"not a boolean: {raw!r}")
        if name in _TUPLE_FIELDS:
            if isinstance(raw, (list, tuple)):
                return tuple(str(v).strip() for v in raw if str(v).strip())
            return tuple(v.strip() for v in str(raw).split(",") if v.strip())
    except ValueError as exc:
        raise SettingsError(f"setting {name}: {exc}") from exc
    text = str(raw)
    return text if text != "" else None


def load(
    env: Mapping[str, str] | None = None,
    toml_path: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from ``fngate.toml`` (if present), the environment, then overrides."""
    env = os.environ if env is None else env
    names = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    named = toml_path or env.get("FNGATE_CONFIG")
    path = Path(named or "fngate.toml")
    if path.is_file():
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        if not named and _DEPLOY_MANIFEST_KEYS & data.keys():
            # ./fngate.toml is also the name of `fngate deploy`'s manifest: in a function's
            # folder it holds [function] or [[functions]], and no settings.
            data = {}
        for key, raw in data.items():
            key = key.lower()
            if key not in names:
                raise SettingsError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(key, raw)
    for name in names:
        raw_env = env.get(_ENV_PREFIX + name.upper())
        if raw_env is not None:
            values[name] = _coerce(name, raw_env)
    for key, raw in overrides.items():
        if raw is not None:
            values[key] = raw
    values = {k: v for k, v in values.items() if v is not None}
    settings = Settings(**values)
    _validate(settings)
    return settings


# A century: beyond it the cut-off is no longer a PostgreSQL interval.
_MAX_RETENTION_DAYS = 36_500


#: The shortest FNGATE_SECRET_KEY accepted (32 random bytes in base64 are 44 characters).
MIN_SECRET_KEY_CHARS = 32


def _validate(s: Settings) -> None:
    if s.mode not in ("development", "production"):
        raise SettingsError(f"FNGATE_MODE must be development or production, not {s.mode!r}")
    if s.sandbox not in ("namespaces", "process"):
        raise SettingsError(
            f"FNGATE_SANDBOX must be namespaces or process, not {s.sandbox!r}"
        )
    _parse_uid_range(s.worker_uid_range)
    _parse_dialects(s.dialects)
    try:
        parse_egress_allow(s.function_egress_allow)
    except ValueError as exc:
        raise SettingsError(f"FNGATE_FUNCTION_EGRESS_ALLOW: {exc}") from None
    if s.max_ephemeral_storage_mb < 16:
        raise SettingsError("FNGATE_MAX_EPHEMERAL_STORAGE_MB must be at least 16")
    if s.is_production:
        if not s.database_url:
            raise SettingsError("production mode needs FNGATE_DATABASE_URL")
        if not (s.jwt_secret or s.jwt_public_key or s.jwks_url):
            raise SettingsError(
                "production mode needs FNGATE_JWT_SECRET, FNGATE_JWT_PUBLIC_KEY or FNGATE_JWKS_URL"
            )
        if not s.secret_key:
            raise SettingsError(
                "production mode needs FNGATE_SECRET_KEY (every replica must seal and open "
                "stored secrets with the same key)")
    for name, key in (("FNGATE_SECRET_KEY", s.secret_key),
                      ("FNGATE_SECRET_KEY_PREVIOUS", s.secret_key_previous)):
        if key is not None and len(key) < MIN_SECRET_KEY_CHARS:
            raise SettingsError(f"{name} must be at least {MIN_SECRET_KEY_CHARS} characters"
                                " (e.g. the output of `openssl rand -base64 32`)")
    for alg in s.effective_algorithms():
        if alg.lower() == "none":
            raise SettingsError("JWT algorithm 'none' is never allowed")
    if s.max_body_bytes <= 0 or s.max_timeout_ms <= 0 or s.max_memory_mb <= 0:
        raise SettingsError("limits must be positive")
    if min(s.webhook_timeout_s, s.webhook_retry_backoff_s, s.webhook_poll_s) <= 0:
        raise SettingsError("webhook timeout, backoff and poll interval must be positive")
    if s.log_retention_days < 0 or s.log_retention_max_lines < 0:
        raise SettingsError("log retention limits must be 0 (off) or positive")
    if not 0 < s.job_retention_days <= _MAX_RETENTION_DAYS:  # also refuses NaN
        raise SettingsError(
            f"FNGATE_JOB_RETENTION_DAYS must be a positive number of days up to"
            f" {_MAX_RETENTION_DAYS} (fractions allowed, e.g. 0.5), not {s.job_retention_days!r}")
    if s.max_workers is not None and s.max_workers < 1:
        raise SettingsError(
            f"FNGATE_MAX_WORKERS must be at least 1 (unset: derived from memory and cores),"
            f" not {s.max_workers!r}")
    _parse_worker_shares(s.max_workers_per_runtime)
    if not 1 <= s.maintenance_interval_s <= 86_400:  # also refuses NaN
        raise SettingsError(
            f"FNGATE_MAINTENANCE_INTERVAL_S must be between 1 and 86400 seconds,"
            f" not {s.maintenance_interval_s!r}")
    if s.job_retention_per_function < 1:
        raise SettingsError(
            f"FNGATE_JOB_RETENTION_PER_FUNCTION must be at least 1,"
            f" not {s.job_retention_per_function!r}")


def _parse_worker_shares(entries: Iterable[str]) -> dict[str, int]:
    shares: dict[str, int] = {}
    for entry in entries:
        name, sep, count = (part.strip() for part in entry.partition("="))
        if not sep or not count.isdigit() or int(count) < 1:
            raise SettingsError(
                f"FNGATE_MAX_WORKERS_PER_RUNTIME entries are runtime=N with N at least 1"
                f" (e.g. python=24,nodejs=16), not {entry!r}")
        if name not in RUNTIME_NAMES:
            raise SettingsError(
                f"FNGATE_MAX_WORKERS_PER_RUNTIME: unknown runtime {name!r}"
                f" (one of {', '.join(RUNTIME_NAMES)})")
        if name in shares:
            raise SettingsError(f"FNGATE_MAX_WORKERS_PER_RUNTIME names {name!r} twice")
        shares[name] = int(count)
    return shares


def _parse_dialects(text: str) -> tuple[str, ...]:
    names = [name.strip() for name in text.split(",")]
    if names in (["all"], ["none"]):
        return DIALECT_NAMES if names == ["all"] else ()
    for name in names:
        if name not in DIALECT_NAMES:
            raise SettingsError(
                f"FNGATE_DIALECTS: unknown dialect {name!r}: a comma list of"
                f" {', '.join(DIALECT_NAMES)}, or all, or none")
        if names.count(name) > 1:
            raise SettingsError(f"FNGATE_DIALECTS names {name!r} twice")
    return tuple(name for name in DIALECT_NAMES if name in names)


def _parse_uid_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise SettingsError(f"FNGATE_WORKER_UID_RANGE must be LOW-HIGH, not {text!r}")
    if not 1000 <= int(low) <= int(high) <= 2**32 - 2:
        raise SettingsError(f"FNGATE_WORKER_UID_RANGE {text!r} must lie within 1000-4294967294")
    return int(low), int(high)


def parse_egress_allow(
    entries: Iterable[str],
) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None], ...]:
    """``CIDR`` / ``CIDR:port`` / ``[v6CIDR]:port`` entries as (network, port or None);
    ValueError names the bad one. Blank entries are skipped."""
    out: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]] = []
    for raw in entries:
        text = raw.strip()
        if not text:
            continue
        port: int | None = None
        net_text = text
        if text.startswith("["):
            net_text, _, rest = text[1:].partition("]")
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"egress allow entry {raw!r}: expected [CIDR]:port")
                port = _egress_port(raw, rest[1:])
        elif text.count(":") == 1:
            net_text, _, port_text = text.partition(":")
            port = _egress_port(raw, port_text)
        try:
            network = ipaddress.ip_network(net_text, strict=False)
        except ValueError:
            raise ValueError(f"egress allow entry {raw!r} is not a CIDR[:port]") from None
        out.append((network, port))
    return tuple(out)


def _egress_port(raw: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"egress allow entry {raw!r}: port must be 1-65535")
    return int(text)


def ensure_data_dir(settings: Settings) -> Path:
    """Create the data directory with mode 0700 and return it."""
    path = settings.data_path
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def load_or_create_secret(settings: Settings, name: str) -> str:
    """Read a generated secret from the data directory, creating it (0600) on first use."""
    path = ensure_data_dir(settings) / name
    try:
        text = path.read_text().strip()
        if text:
            os.chmod(path, 0o600)
            return text
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value
