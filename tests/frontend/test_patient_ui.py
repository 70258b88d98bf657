"""The patient portal in a real browser on a phone-sized screen (375 px), in Chinese and in English: the
pre-consultation dialogue to its triage result, the emergency banner for a red flag, submitting to the
doctors, erasing the session, a health question, and the error messages."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.frontend.conftest import LANGUAGES, OpenPage, Stack, require_browser

require_browser()

from playwright.sync_api import Page, Route, expect  # noqa: E402

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "start": "开始预问诊",
        "input": "您的回答",
        "step": r"第 (\d) / 6 步",
        "triage": "分诊建议",
        "red_flag": "现在突然胸口剧痛，喘不上气",
        "emergency": "可能是紧急情况！",
        "submit": "提交给医生",
        "submitted": "已提交给医生。摘要编号：",
        "restored": "已恢复您之前的对话。",
        "erase": "删除我的数据",
        "erased": "您的数据已删除。",
        "qa_tab": "健康问答",
        "chat_tab": "预问诊",
        "question_label": "您的健康问题",
        "ask": "提问",
        "question": "胸口剧痛喘不上气怎么办？",
        "see_a_doctor": "何时就医",
    },
    "en": {
        "start": "Start",
        "input": "Your answer",
        "step": r"Step (\d) of 6",
        "triage": "Triage",
        "red_flag": "Now I suddenly have crushing chest pain and can't breathe",
        "emergency": "This may be an emergency!",
        "submit": "Send to the doctors",
        "submitted": "Sent to the doctors. Summary number: ",
        "restored": "Your earlier conversation was restored.",
        "erase": "Erase my data",
        "erased": "Your data has been erased.",
        "qa_tab": "Health questions",
        "chat_tab": "Pre-consultation",
        "question_label": "Your health question",
        "ask": "Ask",
        "question": "I have chest pain and can't breathe, what should I do?",
        "see_a_doctor": "When to see a doctor",
    },
}
# The patient's answer at each step of the dialogue (step 4 is asked up to three times). Step 5 says
# she is not pregnant in the same breath, so the pregnancy question is never asked.
ANSWERS = {
    "zh": {1: "我头痛，还有点发烧", 2: "三天了", 3: "6分", 4: "没有", 5: "35岁，女，没有怀孕", 6: "没有"},
    "en": {
        1: "I have a headache and a fever",
        2: "three days",
        3: "6",
        4: "no",
        5: "35, female, not pregnant",
        6: "none",
    },
}


def send(page: Page, text: str, message: str) -> None:
    """Type a message, send it with Enter, and wait for the assistant's reply."""
    log = page.locator("#chat-log > li")
    before = log.count()
    box = page.get_by_label(text, exact=True)
    box.fill(message)
    box.press("Enter")
    expect(log).to_have_count(before + 2)


def answer_with(status: int, headers: dict[str, str], body: str) -> Callable[[Route], None]:
    """A route handler answering as the service would."""

    def handler(route: Route) -> None:
        route.fulfill(status=status, headers=headers, body=body)

    return handler


def fits_the_screen(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide on a 375px screen"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_patient_completes_the_dialogue_sees_the_emergency_banner_submits_and_erases(
    lang: str, ui_stack: Stack, open_page: OpenPage, screenshots: Path
) -> None:
    text = TEXT[lang]
    shot = screenshots / f"patient-{lang}"
    page = open_page(ui_stack.patient_ui, phone=True)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    if lang == "en":
        page.get_by_role("button", name=re.compile("Switch to English")).click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    page.screenshot(path=f"{shot}-start.png")

    page.get_by_role("button", name=text["start"], exact=True).click()
    expect(page.locator("#chat-log > li")).to_have_count(1)  # the greeting
    triage = page.locator("#triage")
    for _ in range(12):
        step = re.search(text["step"], page.locator("#chat-step").text_content() or "")
        assert step, page.locator("#chat-step").text_content()
        send(page, text["input"], ANSWERS[lang][int(step.group(1))])
        if triage.is_visible():
            break
        if int(step.group(1)) == 3:
            # Half-way: a reload restores the conversation from the service.
            page.reload()
            expect(page.locator("#chat-notice")).to_have_text(text["restored"])
    expect(triage.get_by_role("heading", name=text["triage"])).to_be_visible()
    expect(triage.locator("li").first).to_be_visible()  # departments
    expect(page.locator("#emergency")).to_be_hidden()
    fits_the_screen(page)
    page.screenshot(path=f"{shot}-triage.png", full_page=True)

    # A red flag: the banner is an alert, red, and stays in view.
    send(page, text["input"], text["red_flag"])
    banner = page.get_by_role("alert").filter(has_text=text["emergency"])
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("120")
    expect(banner).to_be_in_viewport()
    assert banner.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(179, 38, 30)"
    expect(banner.get_by_role("link")).to_have_attribute("href", "tel:120")
    fits_the_screen(page)
    page.screenshot(path=f"{shot}-emergency.png")

    # Submitted: confirmed with its number, and in the doctors' inbox.
    page.get_by_role("button", name=text["submit"], exact=True).click()
    done = page.locator("#submit-done")
    expect(done).to_contain_text(text["submitted"])
    found = re.search(r"[A-Za-z0-9_-]{22}", done.text_content() or "")
    assert found, done.text_content()
    record_id = found.group(0)
    expect(page.locator("#chat-form")).to_be_hidden()  # the dialogue is closed once sent
    page.screenshot(path=f"{shot}-submitted.png", full_page=True)
    record = httpx.get(
        f"{ui_stack.doctor_ui}/api/v1/consultations/{record_id}", headers=ui_stack.admin_headers(), timeout=10
    )
    assert record.status_code == 200, record.text
    assert record.json()["summary"]["triage"]["emergency"] is True

    # Erase my data: after a confirmation, the session and the submitted summary are gone.
    page.get_by_role("button", name=text["erase"], exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name=text["erase"], exact=True).click()
    expect(page.locator("#chat-notice")).to_have_text(text["erased"])
    expect(page.get_by_role("button", name=text["start"], exact=True)).to_be_visible()
    expect(page.locator("#emergency")).to_be_hidden()
    assert page.evaluate("() => sessionStorage.getItem('medqa.patient.session')") is None
    record = httpx.get(
        f"{ui_stack.doctor_ui}/api/v1/consultations/{record_id}", headers=ui_stack.admin_headers(), timeout=10
    )
    assert record.status_code == 404
    page.screenshot(path=f"{shot}-erased.png")

    # A health question (tabs work with the keyboard); a red flag in it raises the banner too.
    page.get_by_role("tab", name=text["chat_tab"]).focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name=text["qa_tab"])).to_have_attribute("aria-selected", "true")
    page.get_by_label(text["question_label"]).fill(text["question"])
    page.get_by_role("button", name=text["ask"], exact=True).click()
    expect(page.locator("#qa-answer")).not_to_be_empty()
    expect(page.locator("#qa-see-heading")).to_have_text(text["see_a_doctor"])
    expect(page.get_by_role("alert").filter(has_text=text["emergency"])).to_be_visible()
    fits_the_screen(page)
    page.screenshot(path=f"{shot}-health-question.png", full_page=True)


def test_patient_errors_get_clear_messages(ui_stack: Stack, open_page: OpenPage) -> None:
    page = open_page(ui_stack.patient_ui, phone=True)

    # Health questions: 429 says when to retry, 503 that the service is busy, 422 what is wrong.
    page.get_by_role("tab", name="健康问答").click()
    page.get_by_label("您的健康问题").fill("感冒了怎么办？")
    ask = page.get_by_role("button", name="提问", exact=True)
    error = page.locator("#qa-error")
    cases = [
        (422, {}, {"details": [{"loc": ["body", "question"], "msg": "x", "type": "string_too_long"}]}),
        (503, {"Retry-After": "1"}, {}),
        (429, {"Retry-After": "30"}, {}),
    ]
    expected = [
        "输入有误：您的健康问题：太长",
        "服务繁忙或暂时不可用。请在 1 秒后",
        "请求过于频繁。请在 30 秒后",
    ]
    for (status, headers, extra), message in zip(cases, expected, strict=True):
        body = json.dumps({"error": {"code": "x", "message": "x", "request_id": "r", **extra}})
        page.unroute("**/api/v1/health/qa")
        json_headers = {**headers, "Content-Type": "application/json"}
        page.route("**/api/v1/health/qa", answer_with(status, json_headers, body))
        expect(ask).to_be_enabled()
        ask.click()
        expect(error).to_contain_text(message)
    expect(ask).to_be_disabled()  # for the 30 s the service asked for

    # A session the service no longer knows (expired): back to the start, saying so.
    page.get_by_role("tab", name="预问诊").click()
    page.get_by_role("button", name="开始预问诊").click()
    expect(page.locator("#chat-log > li")).to_have_count(1)
    gone = json.dumps({"error": {"code": "not_found", "message": "x", "request_id": "r"}})
    page.route("**/api/v1/sessions/*/messages", answer_with(404, {"Content-Type": "application/json"}, gone))
    page.get_by_label("您的回答").fill("头痛")
    page.get_by_label("您的回答").press("Enter")
    expect(page.locator("#chat-notice")).to_contain_text("您的问诊会话已过期")
    expect(page.get_by_role("button", name="开始预问诊")).to_be_visible()
