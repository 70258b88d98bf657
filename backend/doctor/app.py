"""The doctor service: clinical QA and the consultation inbox (API on 8000)."""

from backend.core.app_factory import create_app

app = create_app("doctor", title="MedQA doctor service")
