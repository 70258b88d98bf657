"""Pre-consultation sessions: a dialogue whose state lives in Redis, submitted to the doctors' inbox.

The token returned at creation is required on every call (Authorization: Bearer). A wrong token
and an unknown session both answer 404, so nobody can find out which sessions exist.

With a language model configured, each message is first read by it (services/dialogue_llm.py),
outside the optimistic update so a lost race never calls it twice; whatever it gives is checked,
and whatever it fails to give the rules give: a model failure never fails the message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Request
from pydantic import BaseModel, Field

from backend.core.deps import ConsultationsDep, KnowledgeDep, QADep
from backend.core.errors import ERROR_RESPONSES, AppError
from backend.core.guard import rate_limited
from backend.core.schemas import StrictModel
from backend.core.text import CleanText, Language
from backend.patient.services import dialogue, dialogue_llm
from backend.patient.services.slot_schema import LLMTurn
from backend.patient.services.state_store import SessionNotFound, SessionStore
from backend.patient.services.summary import doctor_summary


@contextlib.asynccontextmanager
async def rules_loaded(app: FastAPI) -> AsyncIterator[None]:
    """The dialogue's rule files, read and validated in each worker as it starts: a bad file stops the
    service with one message naming the file and the field, instead of failing the first patient."""
    await asyncio.to_thread(dialogue.load_rules)
    yield


router = APIRouter(
    prefix="/api/v1/sessions",
    tags=["pre-consultation"],
    responses=ERROR_RESPONSES,
)
rate_limited(router, "default")

SessionId = Annotated[str, Path(min_length=1, max_length=64)]
NOT_FOUND = "Session not found, or it has expired. Start a new one."
SUBMITTED = "This summary was already submitted; start a new session for a new problem."


async def session_token(authorization: Annotated[str | None, Header()] = None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AppError(
            401,
            "This call needs the session's token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


async def get_sessions(request: Request) -> SessionStore:
    sessions: SessionStore = request.app.state.sessions
    return sessions


TokenDep = Annotated[str, Depends(session_token)]
SessionsDep = Annotated[SessionStore, Depends(get_sessions)]


class Created(BaseModel):
    session_id: str
    token: str = Field(description="Send as 'Authorization: Bearer <token>' on every call of this session")
    reply: str
    stage: str


class MessageIn(StrictModel):
    text: CleanText = Field(min_length=1, max_length=1000)


class MessageOut(BaseModel):
    reply: str
    stage: str
    collected: dict[str, Any]
    triage: dict[str, Any] | None = None


class SessionOut(BaseModel):
    session_id: str
    stage: str
    collected: dict[str, Any]
    triage: dict[str, Any] | None
    history: list[dict[str, Any]]
    record_id: str | None


class Submitted(BaseModel):
    record_id: str


async def _load(sessions: SessionStore, session_id: str, token: str) -> dict[str, Any]:
    try:
        return await sessions.load(session_id, token)
    except SessionNotFound:
        raise AppError(404, NOT_FOUND) from None


def _public_triage(triage: dict[str, Any] | None) -> dict[str, Any] | None:
    if triage is None:
        return None
    return {key: value for key, value in triage.items() if key not in {"condition_ids", "department"}}


class NewSession(StrictModel):
    language: Language = "zh"


@router.post("", status_code=201, summary="Start a pre-consultation; keep the token it returns")
async def create(sessions: SessionsDep, body: NewSession | None = None) -> Created:
    language: Language = body.language if body else "zh"
    # The greeting follows the portal's language; the dialogue then follows the patient's words.
    state = dialogue.new_state(language)
    reply = dialogue.greeting(language)
    state["history"].append({"role": "assistant", "text": reply})
    session_id, token = await sessions.create(state)
    return Created(session_id=session_id, token=token, reply=reply, stage=state["stage"])


@router.post("/{session_id}/messages", summary="Send the patient's next message; get the next question")
async def message(
    session_id: SessionId,
    body: MessageIn,
    token: TokenDep,
    sessions: SessionsDep,
    knowledge: KnowledgeDep,
    qa: QADep,
) -> MessageOut:
    turn: LLMTurn | None = None
    if qa.llm is not None:
        turn = await dialogue_llm.read_turn(
            qa.llm, await _load(sessions, session_id, token), body.text, knowledge
        )

    async def change(state: dict[str, Any]) -> str:
        if state.get("record_id"):
            raise AppError(409, SUBMITTED)
        return await dialogue.advance(state, body.text, knowledge, turn)

    try:
        state, reply = await sessions.update(session_id, token, change)
    except SessionNotFound:
        raise AppError(404, NOT_FOUND) from None
    return MessageOut(
        reply=reply,
        stage=state["stage"],
        collected=state["collected"],
        triage=_public_triage(state["triage"]),
    )


@router.get("/{session_id}", summary="The session so far: stage, what was collected, the transcript")
async def read(session_id: SessionId, token: TokenDep, sessions: SessionsDep) -> SessionOut:
    state = await _load(sessions, session_id, token)
    return SessionOut(
        session_id=session_id,
        stage=state["stage"],
        collected=state["collected"],
        triage=_public_triage(state["triage"]),
        history=state["history"],
        record_id=state.get("record_id"),
    )


@router.post("/{session_id}/submit", summary="Send the summary to the doctors' inbox")
async def submit(
    session_id: SessionId,
    token: TokenDep,
    sessions: SessionsDep,
    consultations: ConsultationsDep,
    knowledge: KnowledgeDep,
) -> Submitted:
    state = await _load(sessions, session_id, token)
    if state.get("record_id"):
        return Submitted(record_id=state["record_id"])  # submitting twice sends one summary
    if state["triage"] is None:
        raise AppError(409, "The pre-consultation is not finished yet: answer the remaining questions first.")
    graph = knowledge.graph
    summary = {
        **doctor_summary(state, lambda name: graph.name_en("symptom", name)),
        "triage": _public_triage(state["triage"]),
        "transcript": [{"role": m["role"], "text": m["text"]} for m in state["history"]],
    }
    record = await consultations.submit(
        summary, department=state["triage"]["department"], session_id=session_id
    )

    async def remember(fresh: dict[str, Any]) -> None:
        fresh["record_id"] = record["id"]

    await sessions.update(session_id, token, remember)
    return Submitted(record_id=record["id"])


@router.delete("/{session_id}", status_code=204, summary="Erase this session and the summary it submitted")
async def erase(
    session_id: SessionId, token: TokenDep, sessions: SessionsDep, consultations: ConsultationsDep
) -> None:
    await _load(sessions, session_id, token)  # only the session's own token may erase it
    await consultations.erase_session(session_id)
    await sessions.delete(session_id, token)
