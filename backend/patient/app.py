"""The patient service: triage, pre-consultation and health questions (API on 8001)."""

from backend.core.app_factory import create_app

app = create_app("patient", title="MedQA patient service")
