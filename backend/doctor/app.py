"""The doctor service: clinical QA and the consultation inbox (API on 8000)."""

from fastapi import FastAPI

from backend.core.app_factory import create_app
from backend.core.cache.tiered import cache_lifespan
from backend.core.config import Settings
from backend.core.consultations import consultations_lifespan
from backend.core.knowledge.service import knowledge_lifespan
from backend.doctor.api import admin_cache, consultations, kb, kg, qa


def create_doctor_app(settings: Settings | None = None) -> FastAPI:
    return create_app(
        "doctor",
        title="MedQA doctor service",
        routers=[qa.router, kb.router, kg.router, consultations.router, admin_cache.router],
        lifespans=[knowledge_lifespan, cache_lifespan, consultations_lifespan],
        settings=settings,
    )


app = create_doctor_app()
