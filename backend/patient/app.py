"""The patient service: triage, pre-consultation and health questions (API on 8001)."""

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from backend.core.api import departments
from backend.core.app_factory import create_app
from backend.core.cache.tiered import cache_lifespan
from backend.core.config import Settings
from backend.core.consultations import consultations_lifespan
from backend.core.db.engine import db_lifespan
from backend.core.knowledge.lifespan import knowledge_lifespan
from backend.patient.api import health_qa, sessions, triage
from backend.patient.services.red_flags import red_flags_lifespan
from backend.patient.services.state_store import SessionStore


@contextlib.asynccontextmanager
async def sessions_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.sessions = SessionStore(
        app.state.redis,
        prefix=settings.redis_key_prefix,
        ttl_seconds=settings.session_ttl,
        max_history=settings.session_max_history,
    )
    yield


def create_patient_app(settings: Settings | None = None) -> FastAPI:
    return create_app(
        "patient",
        title="MedQA patient service",
        routers=[triage.router, departments.router, sessions.router, health_qa.router],
        # The clinical rules first: a worker with rules it cannot load must not start.
        lifespans=[
            red_flags_lifespan,
            sessions.rules_loaded,
            db_lifespan,
            knowledge_lifespan,
            cache_lifespan,
            consultations_lifespan,
            sessions_lifespan,
        ],
        settings=settings,
    )


app = create_patient_app()
