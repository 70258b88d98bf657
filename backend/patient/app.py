"""The patient service: triage, pre-consultation and health questions (API on 8001)."""

from fastapi import FastAPI

from backend.core.app_factory import create_app
from backend.core.cache.tiered import cache_lifespan
from backend.core.config import Settings
from backend.core.knowledge.service import knowledge_lifespan
from backend.patient.api import health_qa, triage


def create_patient_app(settings: Settings | None = None) -> FastAPI:
    return create_app(
        "patient",
        title="MedQA patient service",
        routers=[triage.router, health_qa.router],
        lifespans=[knowledge_lifespan, cache_lifespan],
        settings=settings,
    )


app = create_patient_app()
