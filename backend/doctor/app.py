"""The doctor service: clinical QA and the consultation inbox (API on 8000), for signed-in doctors."""

from fastapi import FastAPI

from backend.core.api import departments
from backend.core.app_factory import create_app
from backend.core.cache.tiered import cache_lifespan
from backend.core.config import Settings
from backend.core.consultations import consultations_lifespan
from backend.core.db.engine import db_lifespan
from backend.core.knowledge.lifespan import knowledge_lifespan
from backend.doctor.api import admin_audit, admin_cache, admin_users, auth, consultations, kb, kg, qa
from backend.doctor.auth.service import auth_lifespan
from backend.doctor.deps import SIGN_IN


def create_doctor_app(settings: Settings | None = None) -> FastAPI:
    return create_app(
        "doctor",
        title="MedQA doctor service",
        routers=[
            qa.router,
            kb.router,
            kg.router,
            consultations.router,
            departments.router,
            admin_cache.router,
            admin_users.router,
            admin_audit.router,
        ],
        # Every /api route but sign-in needs a signed-in doctor; admin routes check the role too.
        sign_in=SIGN_IN,
        public_routers=[auth.router],
        lifespans=[db_lifespan, auth_lifespan, knowledge_lifespan, cache_lifespan, consultations_lifespan],
        settings=settings,
    )


app = create_doctor_app()
