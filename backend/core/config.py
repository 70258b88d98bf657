"""Every knob of both services, read once from the environment or `.env`."""

from __future__ import annotations

import sys
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal

from limits import parse as parse_rate_limit
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Development-only defaults: APP_ENV=production refuses to start with any of them.
DEV_SECRET_KEY = "development-only-secret-do-not-use-in-production"  # noqa: S105
_WEAK_SECRETS = {"", DEV_SECRET_KEY, "changethis", "change-me", "secret", "password", "admin"}
MIN_SECRET_LENGTH = 32
MIN_PASSWORD_LENGTH = 10


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    app_env: Literal["development", "production", "test"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    # Network
    host: str = "127.0.0.1"
    doctor_port: int = Field(8000, ge=1, le=65535)
    patient_port: int = Field(8001, ge=1, le=65535)
    doctor_ui_port: int = Field(3000, ge=1, le=65535)
    patient_ui_port: int = Field(3001, ge=1, le=65535)
    forwarded_allow_ips: str = "127.0.0.1"
    cors_origins: Annotated[list[str], NoDecode] = [
        "http://localhost:3000",
        "http://127.0.0.1:3000",
        "http://localhost:3001",
        "http://127.0.0.1:3001",
    ]

    # Who may scrape /metrics: these networks, or anyone sending METRICS_TOKEN as a bearer token
    metrics_allow_ips: Annotated[list[IPv4Network | IPv6Network], NoDecode] = [
        IPv4Network("127.0.0.0/8"),
        IPv6Network("::1/128"),
        IPv4Network("10.0.0.0/8"),
        IPv4Network("172.16.0.0/12"),
        IPv4Network("192.168.0.0/16"),
    ]
    metrics_token: str = ""
    # The OpenAPI docs (/docs, /redoc, /openapi.json); unset: on, except when APP_ENV=production
    api_docs: bool | None = None

    @property
    def docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.app_env != "production"

    # Gunicorn / uvicorn
    workers: int = Field(4, ge=1, le=64)
    # Open connections per worker, idle keep-alive ones included (uvicorn's limit_concurrency): a
    # bound on sockets and memory, set high so thinking clients keep their connection.
    max_connections: int = Field(4096, ge=1)
    # Requests served at once per worker; beyond it a fast JSON 503 (backend/core/shedding.py).
    max_in_flight: int = Field(256, ge=1)
    max_requests: int = Field(100_000, ge=0)
    max_requests_jitter: int = Field(10_000, ge=0)
    # The master imports the app once and workers fork from it (gunicorn.conf.py): a recycled
    # worker only runs the lifespan. False: each worker imports the app itself.
    preload_app: bool = True
    worker_timeout: int = Field(30, ge=1)
    graceful_timeout: int = Field(30, ge=1)
    keepalive: int = Field(5, ge=1)
    drain_seconds: float = Field(1.0, ge=0, le=120)
    control_socket: str = ""
    max_body_bytes: int = Field(1_048_576, ge=1024)
    overload_retry_after: int = Field(1, ge=1)
    thread_pool_size: int = Field(4, ge=1, le=64)

    # Redis
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_max_connections: int = Field(20, ge=1)
    redis_connect_timeout: float = Field(5.0, gt=0)
    redis_socket_timeout: float = Field(5.0, gt=0)
    redis_pool_timeout: float = Field(5.0, gt=0)
    redis_retries: int = Field(3, ge=0)
    redis_health_check_interval: int = Field(30, ge=0)
    redis_key_prefix: str = "medqa:"
    ready_timeout: float = Field(1.0, gt=0)

    # PostgreSQL, the system of record (accounts, consultation records, the audit trail). Unset, `make
    # run` starts a local one with its data in DATA_DIR/postgres, on POSTGRES_PORT (0: a free port).
    database_url: str = "postgresql://postgres@127.0.0.1:5432/medqa"
    database_pool_size: int = Field(5, ge=1, le=100)
    database_pool_overflow: int = Field(5, ge=0, le=100)
    database_timeout: float = Field(5.0, gt=0)
    database_statement_timeout: float = Field(10.0, gt=0)
    postgres_port: int = Field(0, ge=0, le=65535)

    # Caches and data
    cache_max_size: int = Field(5000, ge=0)
    cache_enabled: bool = True
    cache_ttl_qa: float = Field(600, gt=0)
    cache_ttl_retrieval: float = Field(600, gt=0)
    cache_ttl_entities: float = Field(3600, gt=0)
    cache_ttl_graph: float = Field(3600, gt=0)
    cache_ttl_empty: float = Field(30, gt=0)
    cache_ttl_jitter: float = Field(0.1, ge=0, lt=1)
    cache_l2_max_bytes: int = Field(262_144, ge=1024)
    cache_l2_timeout: float = Field(0.25, gt=0)
    cache_l2_breaker_failures: int = Field(3, ge=1)
    cache_l2_breaker_reset_seconds: float = Field(5.0, gt=0)
    cache_lock_seconds: float = Field(30.0, gt=0)
    cache_wait_seconds: float = Field(25.0, ge=0)
    vector_store_cache_size: int = Field(50, ge=1)
    data_dir: Path = PROJECT_ROOT / "data"

    # Patients' pre-consultation sessions and the summaries they submit
    session_ttl: int = Field(1800, ge=60, description="seconds of inactivity before a session is erased")
    session_max_history: int = Field(60, ge=4, le=1000)
    consultation_retention_days: float = Field(30, gt=0)

    # Knowledge layer
    # Dense retrieval (optional): an OpenAI-compatible /v1/embeddings server or a local model
    # directory; "none" (the default; "hashing" is its old name) searches the lexical index alone.
    embedder: Literal["none", "hashing", "sentence-transformers", "openai"] = "none"
    embedding_model_path: str = ""
    embedding_base_url: str = ""
    embedding_model: str = ""
    embedding_query_model: str = ""  # the model name for questions, when the server wants another
    embedding_api_key: str = ""
    embedding_query_prefix: str = ""  # e.g. "query: " for e5 models on a server that adds none
    embedding_passage_prefix: str = ""
    embedding_timeout: float = Field(2.0, gt=0)  # one question
    embedding_batch_timeout: float = Field(300.0, gt=0)  # one batch of passages, when writing
    embedding_batch: int = Field(64, ge=1, le=2048)
    embedding_breaker_failures: int = Field(3, ge=1)
    embedding_breaker_reset_seconds: float = Field(30.0, gt=0)
    # How lexical and dense results are fused, measured on huatuo26m-dev (bench/retrieval.py)
    fusion: Literal["rrf", "weighted"] = "rrf"
    fusion_lexical_weight: float = Field(0.5, ge=0, le=1)
    dense_score_floor: float = Field(0.7, ge=0, lt=1)  # a cosine at or below this is relevance 0
    # Optional user dictionary for the lexical index (one word per line, e.g. THUOCL's medical
    # list); the graph's names and aliases are always in it. Changing it takes `kb rebuild`.
    lexicon_user_dict: str = ""
    qa_top_k: int = Field(5, ge=1, le=20)
    # Relevance (Hit.score, in [0, 1]: the share of the question's weighted terms a passage matches,
    # lexical.py) below which a passage is not shown. zh: on huatuo26m-dev, 90 % of questions whose
    # best passage is their own answer score above 0.11, half of those whose best is another
    # answer score below 0.140 (bench/retrieval.py prints both). English questions have fewer,
    # more specific terms (stopwords dropped), so a match scores higher.
    qa_min_score_zh: float = Field(0.11, ge=0, le=1)
    qa_min_score_en: float = Field(0.20, ge=0, le=1)
    qa_batch_concurrency: int = Field(4, ge=1, le=64)
    qa_batch_max: int = Field(20, ge=1, le=100)

    # LLM (OpenAI-compatible); without LLM_BASE_URL answers are composed from the knowledge itself
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""
    llm_timeout: float = Field(20.0, gt=0)
    llm_max_concurrency: int = Field(8, ge=1)
    llm_breaker_failures: int = Field(5, ge=1)
    llm_breaker_reset_seconds: float = Field(30.0, gt=0)

    # Doctor sign-in: signed (HS256) short-lived access tokens, longer refresh tokens, both revocable
    secret_key: str = DEV_SECRET_KEY
    token_audience: str = "medqa-doctor"  # noqa: S105
    access_token_seconds: int = Field(900, ge=30, le=86_400)
    refresh_token_seconds: int = Field(43_200, ge=60, le=30 * 86_400)
    # The first admin, created at start when absent; change it later with the CLI or the admin API
    admin_username: str = ""
    admin_password: str = ""
    # argon2id cost per password check (~0.2 s at the defaults); raise it on faster machines
    argon2_memory_kib: int = Field(65_536, ge=1024)
    argon2_time_cost: int = Field(3, ge=1, le=20)
    # Guessing: a username (or an address) with this many failures in the window is locked out
    login_max_failures: int = Field(5, ge=1)
    login_max_failures_per_address: int = Field(20, ge=1)
    login_failure_window_seconds: int = Field(900, ge=1)
    login_lockout_seconds: int = Field(300, ge=1)
    # Redis too slow for the per-request revocation check: a signed, unexpired token is trusted
    auth_check_timeout: float = Field(0.5, gt=0)
    # A worker reuses its check of a token this long: a logout or password change made in another
    # worker takes effect there within this time (in the same worker, at once)
    auth_cache_seconds: float = Field(1.0, ge=0, le=60)
    audit_retention_days: float = Field(400, gt=0)

    # Rate limits
    rate_limit_enabled: bool = True
    rate_limit_default: str = "120/minute"
    rate_limit_qa: str = "10/minute"
    rate_limit_health: str = "5/minute"  # patients' health questions: stricter than a doctor's
    rate_limit_storage_timeout: float = Field(0.25, gt=0)
    rate_limit_recheck_seconds: float = Field(5.0, gt=0)
    rate_limit_sync_seconds: float = Field(0.1, ge=0)

    @field_validator("cors_origins", "metrics_allow_ips", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("secret_key")
    @classmethod
    def _empty_secret_is_the_default(cls, value: str) -> str:
        # An empty SECRET_KEY (as in .env.example) means "not set": the default, refused in production.
        return value or DEV_SECRET_KEY

    @field_validator("rate_limit_default", "rate_limit_qa", "rate_limit_health")
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit like '10/minute': {value!r}") from exc
        return value

    @field_validator("redis_url")
    @classmethod
    def _valid_redis_url(cls, value: str) -> str:
        schemes = ("redis://", "rediss://", "unix://", "redis+sentinel://", "redis+cluster://")
        if not value.startswith(schemes):
            raise ValueError(f"must start with one of {', '.join(schemes)}")
        return value

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.admin_username and len(self.admin_password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"ADMIN_PASSWORD must have at least {MIN_PASSWORD_LENGTH} characters")
        if self.app_env != "production":
            return self
        if self.secret_key in _WEAK_SECRETS or len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_LENGTH} characters "
                "in production (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        if self.admin_username and (
            self.admin_password in _WEAK_SECRETS or len(self.admin_password) < MIN_PASSWORD_LENGTH
        ):
            raise ValueError(
                f"ADMIN_PASSWORD must be set, not a default, and at least {MIN_PASSWORD_LENGTH} characters "
                "in production"
            )
        if self.metrics_token and len(self.metrics_token) < MIN_SECRET_LENGTH // 2:
            raise ValueError(
                f"METRICS_TOKEN must be at least {MIN_SECRET_LENGTH // 2} characters in production"
            )
        if self.llm_base_url and not self.llm_api_key:
            raise ValueError("LLM_API_KEY must be set in production when LLM_BASE_URL is")
        return self

    @property
    def metrics_root(self) -> Path:
        return self.data_dir / "run" / "metrics"

    @property
    def kb_dir(self) -> Path:
        return self.data_dir / "kb"

    @property
    def cache_dir(self) -> Path:
        """Derived data (graph snapshots): rebuilt from the knowledge base whenever it is lost."""
        return self.data_dir / "cache"


def load_settings() -> Settings:
    """Settings for a process entry point: a bad value ends the process with one clear line."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        sys.stderr.write(f"configuration error: {name}: {first['msg']}\n")
        raise SystemExit(2) from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
