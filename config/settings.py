"""One typed settings object, read once at start-up and passed down.

Everything that differs between a laptop and a provincial data centre is a URL:
the same code runs on SQLite + a folder + a server-less broker, or on
PostgreSQL + MinIO + Redis/RabbitMQ.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SOHOA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("var"),
        description="Where the embedded defaults keep their files (database, objects, broker).",
    )
    database_url: str = Field(default="", description="SQLAlchemy URL; SQLite file by default.")
    broker_url: str = Field(
        default="", description="Celery broker; server-less SQLite broker by default."
    )
    result_backend: str = Field(
        default="", description="Celery result backend (chords); derived when empty."
    )
    storage_url: str = Field(default="", description="file:///path or s3://bucket.")
    s3_endpoint: str = Field(default="", description="host:port or http(s)://host:port of S3.")
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_region: str = "us-east-1"

    queue: str = Field(default="sohoa", description="Celery queue name.")
    ocr_lang: str = "vie"
    raster_dpi: int = Field(default=300, ge=72, le=600)

    max_file_bytes: int = Field(
        default=200 * 1024 * 1024, description="Larger files: file_too_large."
    )
    max_pages: int = Field(default=500, description="More pages: too_many_pages.")
    max_page_pixels: int = Field(
        default=100_000_000, description="Larger pages: image_too_large (decompression bombs)."
    )
    page_timeout_s: int = Field(default=300, description="OCR of one page longer: page_timeout.")

    agency_code: str = Field(default="000.00.00.H55", description="The digitising agency.")
    auto_publish: bool = Field(
        default=True,
        description="Publish confident records at once; off: every record waits for approval.",
    )

    # The agency's key material (pipeline/signing.py). Empty: a development key pair and
    # self-signed certificate are generated once under DATA_DIR/keys/.
    manifest_key: Path | None = Field(
        default=None, description="Ed25519 private key (PEM) that signs record manifests."
    )
    pades_cert: Path | None = Field(
        default=None, description="X.509 certificate (PEM) of the archive PDFs' PAdES signature."
    )
    pades_key: Path | None = Field(default=None, description="Its private key (PEM).")
    pades_key_password: SecretStr = SecretStr("")
    pades_ca: Path | None = Field(
        default=None,
        description="CA certificates (PEM bundle) the signer chains to; trusted when verifying.",
    )

    @cached_property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def db_url(self) -> str:
        url = self.database_url or f"sqlite:///{self.resolved_data_dir / 'sohoa.db'}"
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @property
    def celery_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.resolved_data_dir / 'broker.db'}"

    @property
    def celery_result_backend(self) -> str:
        if self.result_backend:
            return self.result_backend
        broker = self.celery_broker_url
        if broker.startswith(("redis://", "rediss://")):
            return broker
        if self.db_url.startswith("sqlite"):
            # Its own file: Celery's polling must not contend with the records database.
            return f"db+sqlite:///{self.resolved_data_dir / 'results.db'}"
        return "db+" + self.db_url

    @property
    def object_store_url(self) -> str:
        return self.storage_url or (self.resolved_data_dir / "objects").as_uri()

    def ensure_dirs(self) -> None:
        self.resolved_data_dir.mkdir(parents=True, exist_ok=True)

    # API access (api/keys.py, api/ratelimit.py).
    rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description="Requests per minute per API key unless the key has its own limit; 0: none."
        " Counted in each API process (token bucket), so N processes allow up to N times this.",
    )
    rate_limit_burst_s: float = Field(
        default=6.0,
        gt=0.0,
        le=60.0,
        description="A key may send this many seconds' worth of its limit at once (the bucket"
        " holds limit x burst / 60 requests, at least 1).",
    )
    auth_cache_ttl_s: float = Field(
        default=5.0,
        ge=0.0,
        le=60.0,
        description="Seconds an API process trusts a checked key without asking the database;"
        " a revocation or rotation elsewhere takes effect within this time; 0: no cache.",
    )
    key_rotation_max_grace_s: int = Field(
        default=3600,
        ge=0,
        description="Longest grace period a rotation may give the old secret (seconds).",
    )

    # Webhooks (workers/webhooks.py, docs/webhooks.md).
    webhook_timeout_s: float = Field(
        default=10.0, gt=0.0, le=60.0, description="Seconds to wait for a webhook receiver."
    )
    webhook_max_attempts: int = Field(
        default=12, ge=1, le=50, description="Attempts of one delivery before it is failed."
    )
    webhook_backoff_base_s: float = Field(
        default=10.0, gt=0.0, description="Wait before the 2nd attempt; doubles each time."
    )
    webhook_backoff_max_s: float = Field(
        default=3600.0, gt=0.0, description="Longest wait between two attempts (before jitter)."
    )

    # Web pages (api/sessions.py, docs/ui.md).
    session_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Signs the web pages' session cookies; every API process needs the same."
        " Empty: generated once into DATA_DIR/keys/session-secret.",
    )


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and `.env`) once; callers pass the result down."""
    return Settings(**overrides)  # type: ignore[arg-type]
