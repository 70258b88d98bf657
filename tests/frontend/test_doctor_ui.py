"""The doctor workstation in a real browser, in Chinese and in English: sign in and out, a streamed
answer with its sources (the cited document in full, the cited passage highlighted) and disease card,
the inbox with a summary a patient just submitted and its department filter, the admin screens
(browsing a store's documents), an expired sign-in, and the error messages."""

from __future__ import annotations

import json
import random
import re
import uuid
from pathlib import Path

import httpx
import pytest

from tests.frontend.conftest import LANGUAGES, OpenPage, Stack, require_browser
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.fake_llm import FakeLLM

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

# What the fake LLM streams, piece by piece.
CHUNKS = {
    "zh": ["高血压的常用药物", "包括钙通道阻滞剂", "等 [1]。"],
    "en": ["Common drugs ", "for hypertension ", "include calcium channel blockers [1]."],
}
TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "username": "用户名",
        "password": "密码",
        "sign_in": "登录",
        "wrong": "用户名或密码错误",
        "qa_heading": "临床问答",
        "question_label": "临床问题",
        "question": "高血压吃什么药？",
        "ask": "提问",
        "mode_llm": "语言模型生成",
        "streamed": "流式输出",
        "read_source_1": "阅读来源 1：高血压",
        "source_heading": "来源 [1]",
        "source_heading_2": "来源 [2]",
        "not_located": "全文中没有与上面引用内容完全一致的段落",
        "gone": "知识库中已没有这篇文档的全文",
        "department": "科室",
        "all_departments": "全部科室",
        "dermatology": "皮肤科",
        "filter": "筛选",
        "inbox_empty": "没有符合条件的预问诊摘要。",
        "card_chip": "打开“高血压”的疾病卡片",
        "card_heading": "高血压",
        "card_field": "症状",
        "inbox": "预问诊收件箱",
        "complaint": "突然胸口剧痛，喘不上气",
        "mark_seen": "标记为已查看",
        "marked_seen": "已标记为“已查看”。",
        "seen": "已查看",
        "emergency": "急症",
        "sign_out": "退出登录",
        "signed_out": "您已退出登录。",
        "role": "医生",
        "close": "关闭",
    },
    "en": {
        "username": "Username",
        "password": "Password",
        "sign_in": "Sign in",
        "wrong": "Wrong username or password.",
        "qa_heading": "Clinical question answering",
        "question_label": "Clinical question",
        "question": "Which drugs treat hypertension?",
        "ask": "Ask",
        "mode_llm": "Written by the language model",
        "streamed": "Streamed",
        "read_source_1": "Read source 1: 高血压",
        "source_heading": "Source [1]",
        "source_heading_2": "Source [2]",
        "not_located": "No passage of the document matches the cited text above exactly",
        "gone": "The full document is no longer in the store",
        "department": "Department",
        "all_departments": "All departments",
        "dermatology": "Dermatology",
        "filter": "Filter",
        "inbox_empty": "No pre-consultation summaries match.",
        "card_chip": "Open the disease card of 高血压",
        "card_heading": "Hypertension（高血压）",
        "card_field": "Symptoms",
        "inbox": "Consultation inbox",
        "complaint": "Sudden crushing chest pain and I can't breathe",
        "mark_seen": "Mark as seen",
        "marked_seen": "Marked “Seen”.",
        "seen": "Seen",
        "emergency": "Emergency",
        "sign_out": "Sign out",
        "signed_out": "You have signed out.",
        "role": "doctor",
        "close": "Close",
    },
}

# Text that varies (counts, titles) is matched by pattern.
PATTERNS: dict[str, dict[str, re.Pattern[str]]] = {
    "zh": {
        "read_source_2": re.compile(r"^阅读来源 2："),
        "document": re.compile(r"^全文（共 \d+ 段）$"),
        "cited_hint": re.compile(r"^高亮的第 \d+ 段是回答引用的段落。$"),
    },
    "en": {
        "read_source_2": re.compile(r"^Read source 2: "),
        "document": re.compile(r"^Full document \(\d+ passages\)$"),
        "cited_hint": re.compile(r"^The highlighted passage, no\. \d+, is the one the answer cites\.$"),
    },
}


def switch_language(page: Page, lang: str) -> None:
    """Chinese is the default; the visible toggle switches to English (and is remembered)."""
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    if lang == "en":
        page.get_by_role("button", name=re.compile("Switch to English")).click()
        expect(page.locator("html")).to_have_attribute("lang", "en")


def sign_in(page: Page, text: dict[str, str], username: str, password: str) -> None:
    form = page.locator("#login-form")
    form.get_by_label(text["username"]).fill(username)
    form.get_by_label(text["password"]).fill(password)
    form.get_by_role("button", name=text["sign_in"]).click()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_doctor_signs_in_asks_reads_sources_and_card_and_finds_a_new_consultation(
    lang: str, ui_stack: Stack, llm: FakeLLM, open_page: OpenPage, screenshots: Path
) -> None:
    text, pattern = TEXT[lang], PATTERNS[lang]
    username = f"dr-{lang}-{uuid.uuid4().hex[:6]}"
    password = ui_stack.ensure_doctor(username)
    # Letters no rule reads as a slot: a hex marker such as "2c45f1e0" reads as "45, female".
    marker = "".join(random.choices("qxzwv", k=10))
    ui_stack.submit_consultation(f"{text['complaint']} {marker}")
    llm.chunks = list(CHUNKS[lang])
    llm.chunk_delay = 0.4  # slow enough to see the answer arrive piece by piece

    page = open_page(ui_stack.doctor_ui)
    switch_language(page, lang)
    screenshot_prefix = screenshots / f"doctor-{lang}"
    page.screenshot(path=f"{screenshot_prefix}-sign-in.png")

    # A wrong password is refused with a clear message, and no token lands in the URL.
    sign_in(page, text, username, "not-the-password")
    expect(page.locator("#login-error")).to_contain_text(text["wrong"])
    sign_in(page, text, username, password)
    expect(page.get_by_role("heading", name=text["qa_heading"])).to_be_visible()
    expect(page.locator("#user-name")).to_contain_text(f"{username}")
    expect(page.locator("#user-name")).to_contain_text(text["role"])
    expect(page.locator(".admin-only").first).to_be_hidden()  # a doctor sees no admin screens
    assert "token" not in page.url
    assert password not in page.url

    # The answer streams in: partial text while the answer is still busy, then the whole answer.
    page.get_by_label(text["question_label"], exact=True).fill(text["question"])
    page.get_by_role("button", name=text["ask"], exact=True).click()
    answer = page.locator("#qa-answer")
    expect(answer).to_have_attribute("aria-busy", "true")
    expect(answer).to_contain_text(CHUNKS[lang][0])
    expect(answer).to_have_attribute("aria-busy", "true")  # still arriving
    expect(answer).to_have_attribute("aria-busy", "false")
    expect(answer).to_contain_text("".join(CHUNKS[lang]))
    expect(answer.get_by_role("button", name=re.compile("1"))).to_be_visible()  # citation [1]
    badges = page.locator("#qa-badges")
    expect(badges).to_contain_text(text["mode_llm"])
    expect(badges).to_contain_text(text["streamed"])
    expect(page.locator("#qa-disclaimer")).not_to_be_empty()
    expect(page.locator("#qa-intents li").first).to_be_visible()
    page.screenshot(path=f"{screenshot_prefix}-answer.png", full_page=True)

    # A numbered source opens its document in full. Source 1 is written from the knowledge graph:
    # its text is no passage of the document, so it is shown above the full text.
    page.get_by_role("button", name=text["read_source_1"], exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=text["source_heading"])).to_be_visible()
    expect(dialog.get_by_role("heading", name=pattern["document"])).to_be_visible()
    expect(dialog.locator("blockquote")).not_to_be_empty()
    expect(dialog).to_contain_text(text["not_located"])
    assert dialog.locator(".passages > li").count() > 1
    expect(dialog.locator(".passage-cited")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # Source 2 is a retrieved passage: highlighted in the full text and scrolled into view.
    page.get_by_role("button", name=pattern["read_source_2"]).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=text["source_heading_2"])).to_be_visible()
    cited = dialog.locator(".passages > li.passage-cited")
    expect(cited).to_have_count(1)
    expect(cited).to_be_in_viewport()
    expect(dialog.get_by_text(pattern["cited_hint"])).to_be_visible()
    expect(dialog.locator("blockquote")).to_have_count(0)  # the excerpt is the highlighted passage
    page.screenshot(path=f"{screenshot_prefix}-source.png")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # A document no longer in the store (404): the cited excerpt is all there is, and it says so.
    page.route(
        "**/api/v1/kb/stores/*/documents/*",
        lambda route: route.fulfill(
            status=404,
            headers={"Content-Type": "application/json"},
            body=json.dumps({"error": {"code": "not_found", "message": "Document not found"}}),
        ),
    )
    page.get_by_role("button", name=pattern["read_source_2"]).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(text["gone"])
    expect(dialog.locator("blockquote")).not_to_be_empty()
    expect(dialog.locator(".passages")).to_have_count(0)
    page.screenshot(path=f"{screenshot_prefix}-source-gone.png")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.unroute("**/api/v1/kb/stores/*/documents/*")

    # A recognised disease opens its card from the knowledge graph.
    page.get_by_role("button", name=text["card_chip"]).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=text["card_heading"])).to_be_visible()
    expect(dialog.locator("dt", has_text=text["card_field"]).first).to_be_visible()
    page.screenshot(path=f"{screenshot_prefix}-disease-card.png")
    dialog.get_by_role("button", name=text["close"]).click()
    expect(dialog).to_be_hidden()

    # The summary the patient just submitted is in the inbox; open it and mark it seen.
    page.get_by_role("link", name=text["inbox"]).click()
    row = page.locator("#inbox-rows tr", has_text=marker)
    expect(row).to_be_visible()
    expect(row).to_contain_text(text["emergency"])
    page.screenshot(path=f"{screenshot_prefix}-inbox.png", full_page=True)

    # The department filter: the taxonomy in the UI's language, filtering by the name records carry.
    department = page.get_by_label(text["department"], exact=True)
    expect(department.locator("option").first).to_have_text(text["all_departments"])
    expect(department.locator("option", has_text=text["dermatology"])).to_have_attribute("value", "皮肤科")
    assert department.locator("option").count() > 20
    shown_department = row.locator("td").nth(1).inner_text()
    department.select_option(label=shown_department)
    page.get_by_role("button", name=text["filter"], exact=True).click()
    expect(row).to_be_visible()
    expect(page.locator("#inbox-rows td:nth-child(2)", has_not_text=shown_department)).to_have_count(0)
    department.select_option(label=text["dermatology"])
    page.get_by_role("button", name=text["filter"], exact=True).click()
    expect(row).to_have_count(0)
    department.select_option(label=text["all_departments"])
    page.get_by_role("button", name=text["filter"], exact=True).click()
    expect(row).to_be_visible()

    row.get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(marker)
    # A red flag ended the questions: the summary says what was not asked.
    expect(dialog.get_by_role("heading", name=SUMMARY[lang]["said"])).to_be_visible()
    expect(dialog.locator(".facts-gaps")).to_contain_text(SUMMARY[lang]["age"])
    page.screenshot(path=f"{screenshot_prefix}-consultation.png")
    dialog.get_by_role("button", name=text["mark_seen"]).click()
    expect(dialog).to_contain_text(text["marked_seen"])
    page.keyboard.press("Escape")
    expect(row).to_contain_text(text["seen"])

    # Signing out clears the page and returns to the sign-in screen.
    page.get_by_role("button", name=text["sign_out"]).click()
    expect(page.locator("#login-message")).to_have_text(text["signed_out"])
    expect(page.locator("#inbox-rows tr")).to_have_count(0)
    assert page.evaluate("() => sessionStorage.getItem('medqa.doctor.auth')") is None

    # The language chosen is remembered.
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if lang == "zh" else "en")


SUMMARY: dict[str, dict[str, str]] = {
    "zh": {
        "said": "患者陈述",
        "denied": "患者否认",
        "gaps": "未问及或未回答",
        "age": "年龄",
        "duration": "三天 (约 3 天)",
        "headache": "头痛",
        "fever": "发热",
        "site": "头部",
        "female": "女",
        "not_pregnant": "怀孕否",
        "no_medicines": "当前用药无",
        "allergies": "过敏史",
        "legacy_history": "既往史高血压五年",
        "legacy_severity": "严重程度（1–10）5",
    },
    "en": {
        "said": "What the patient said",
        "denied": "What the patient denied",
        "gaps": "Not asked or not answered",
        "age": "Age",
        "duration": "三天 (about 3 days)",
        "headache": "headache",
        "fever": "fever",
        "site": "head",
        "female": "female",
        "not_pregnant": "Pregnantno",
        "no_medicines": "Current medicinesnone",
        "allergies": "Allergies",
        "legacy_history": "Past history高血压五年",
        "legacy_severity": "Severity (1–10)5",
    },
}


def _inbox_row(page: Page, text: dict[str, str], marker: str) -> None:
    page.get_by_role("link", name=text["inbox"]).click()
    row = page.locator("#inbox-rows tr", has_text=marker)
    expect(row).to_be_visible()
    row.get_by_role("button").click()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_inbox_shows_what_was_said_denied_and_not_asked_and_still_reads_old_summaries(
    lang: str, ui_stack: Stack, open_page: OpenPage, screenshots: Path
) -> None:
    text, words = TEXT[lang], SUMMARY[lang]
    marker = "".join(random.choices("qxzwv", k=10))  # letters no rule reads as a slot
    ui_stack.submit_dialogue(
        f"我头痛三天了，挺严重的，35岁女，没有发烧 {marker}",
        {
            "symptoms": "不知道",
            "pregnancy": "没有",
            "history": "高血压",
            "allergies": "跳过",
            "medications": "没有",
        },
    )
    username = f"dr-summary-{lang}-{uuid.uuid4().hex[:6]}"
    password = ui_stack.ensure_doctor(username)
    page = open_page(ui_stack.doctor_ui)
    switch_language(page, lang)
    sign_in(page, text, username, password)
    expect(page.get_by_role("heading", name=text["qa_heading"])).to_be_visible()

    _inbox_row(page, text, marker)
    dialog = page.get_by_role("dialog")
    for heading in ("said", "denied", "gaps"):
        expect(dialog.get_by_role("heading", name=words[heading])).to_be_visible()
    said = dialog.locator(".facts-said")
    for fact in (
        marker,
        words["site"],
        words["duration"],
        "7/10",
        words["headache"],
        "35",
        words["female"],
        "高血压",
    ):
        expect(said).to_contain_text(fact)
    denied = dialog.locator(".facts-denied")
    for fact in (words["fever"], words["not_pregnant"], words["no_medicines"]):
        expect(denied).to_contain_text(fact)
    expect(dialog.locator(".facts-gaps")).to_contain_text(words["allergies"])
    page.screenshot(path=screenshots / f"doctor-{lang}-summary.png", full_page=True)
    page.keyboard.press("Escape")

    # A record submitted before slot filling (summary without "format"): still read in full.
    legacy_id = "L" * 22
    legacy = {
        "id": legacy_id,
        "department": "神经内科",
        "status": "new",
        "created_at": 1_700_000_000,
        "summary": {
            "collected": {
                "chief_complaint": f"头痛 {marker}old",
                "duration": "三天",
                "severity": 5,
                "symptoms": ["头痛"],
                "denied_symptoms": ["发热"],
                "age": 50.0,
                "sex": "male",
                "history": "高血压五年",
                "allergies": None,
            },
            "triage": {
                "departments": [{"name": "神经内科", "score": 0.5}],
                "emergency": False,
                "advice": "x",
            },
            "language": "zh",
            "transcript": [{"role": "patient", "text": "头痛"}],
        },
    }
    page.route(
        re.compile(r".*/api/v1/consultations\?.*"),
        lambda route: route.fulfill(
            status=200,
            headers={"Content-Type": "application/json"},
            body=json.dumps({"items": [legacy], "total": 1, "page": 1, "page_size": 20}),
        ),
    )
    page.route(
        f"**/api/v1/consultations/{legacy_id}",
        lambda route: route.fulfill(
            status=200, headers={"Content-Type": "application/json"}, body=json.dumps(legacy)
        ),
    )
    page.locator("#inbox-refresh").click()
    row = page.locator("#inbox-rows tr", has_text=f"{marker}old")
    expect(row).to_be_visible()
    row.get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(words["legacy_history"])
    expect(dialog).to_contain_text(words["legacy_severity"])
    expect(dialog.locator(".facts-said")).to_have_count(0)


def test_an_expired_sign_in_returns_to_the_sign_in_screen(
    ui_stack: Stack, open_page: OpenPage, screenshots: Path
) -> None:
    username = f"dr-expired-{uuid.uuid4().hex[:6]}"
    password = ui_stack.ensure_doctor(username)
    page = open_page(ui_stack.doctor_ui)
    sign_in(page, TEXT["zh"], username, password)
    expect(page.get_by_role("heading", name="临床问答")).to_be_visible()

    # After a reload the stored sign-in is used; an access token that no longer works is renewed
    # with the refresh token, unnoticed.
    page.evaluate(
        """() => {
            const session = JSON.parse(sessionStorage.getItem('medqa.doctor.auth'));
            session.access = session.access.slice(0, -4) + 'AAAA';
            sessionStorage.setItem('medqa.doctor.auth', JSON.stringify(session));
        }"""
    )
    page.reload()
    expect(page.get_by_role("heading", name="临床问答")).to_be_visible()
    page.get_by_role("link", name="预问诊收件箱").click()
    expect(page.locator("#inbox-count")).to_contain_text("共")

    # An admin changes the password: every sign-in of that doctor ends, the refresh fails too,
    # and the next call takes the doctor back to the sign-in screen.
    changed = httpx.patch(
        f"{ui_stack.doctor_ui}/api/v1/admin/users/{username}",
        json={"password": "another-password-456"},
        headers=ui_stack.admin_headers(),
        timeout=10,
    )
    assert changed.status_code == 200, changed.text
    page.get_by_role("button", name="刷新").click()
    expect(page.locator("#login-message")).to_have_text("登录已过期，请重新登录。")
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#inbox-rows tr")).to_have_count(0)
    assert page.evaluate("() => sessionStorage.getItem('medqa.doctor.auth')") is None
    page.screenshot(path=screenshots / "doctor-zh-sign-in-expired.png")


def test_repeated_wrong_passwords_say_when_to_retry(ui_stack: Stack, open_page: OpenPage) -> None:
    page = open_page(ui_stack.doctor_ui)
    username = f"nobody-{uuid.uuid4().hex[:6]}"
    for _ in range(3):  # LOGIN_MAX_FAILURES in the stack
        sign_in(page, TEXT["zh"], username, "wrong-password-1")
        expect(page.locator("#login-error")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("登录失败次数过多")
    expect(page.locator("#login-error")).to_contain_text(re.compile(r"请在 \d+ 秒后"))
    expect(page.locator("#login-submit")).to_be_disabled()  # until Retry-After has passed


def fail_with(
    page: Page, status: int, body: dict[str, object], headers: dict[str, str] | None = None
) -> None:
    """The next stream requests answer this error, as the service would."""
    all_headers = {**(headers or {}), "Content-Type": "application/json"}
    page.unroute("**/api/v1/medical/qa/stream")
    page.route(
        "**/api/v1/medical/qa/stream",
        lambda route: route.fulfill(status=status, headers=all_headers, body=json.dumps(body)),
    )


def test_api_errors_get_clear_messages(ui_stack: Stack, open_page: OpenPage) -> None:
    username = f"dr-errors-{uuid.uuid4().hex[:6]}"
    password = ui_stack.ensure_doctor(username)
    page = open_page(ui_stack.doctor_ui)
    sign_in(page, TEXT["zh"], username, password)
    expect(page.get_by_role("heading", name="临床问答")).to_be_visible()
    page.get_by_label("临床问题").fill("高血压吃什么药？")
    ask = page.get_by_role("button", name="提问", exact=True)
    error = page.locator("#qa-error")

    fail_with(page, 500, {"error": {"code": "internal_error", "message": "x", "request_id": "req-500"}})
    ask.click()
    expect(error).to_have_text("服务内部错误，请稍后重试。（请求编号：req-500）")

    # 422: the message says which field is wrong and how.
    details = [{"loc": ["body", "question"], "msg": "too long", "type": "string_too_long"}]
    fail_with(page, 422, {"error": {"code": "validation_error", "message": "x", "details": details}})
    ask.click()
    expect(error).to_have_text("输入有误：临床问题：太长")

    # Streaming not available (an older service, a proxy): the plain endpoint answers instead.
    fail_with(page, 404, {"error": {"code": "not_found", "message": "x"}})
    ask.click()
    expect(page.locator("#qa-notice")).to_contain_text("流式输出不可用")
    expect(page.locator("#qa-badges")).to_contain_text("实时生成")
    expect(page.locator("#qa-answer")).to_have_attribute("aria-busy", "false")
    expect(error).to_be_hidden()

    # 503 and 429 say when to try again, and the button waits that long.
    fail_with(page, 503, {"error": {"code": "unavailable", "message": "x"}}, {"Retry-After": "1"})
    ask.click()
    expect(error).to_contain_text("服务繁忙或暂时不可用。请在 1 秒后")
    expect(ask).to_be_enabled()  # after the second has passed
    fail_with(page, 429, {"error": {"code": "rate_limited", "message": "x"}}, {"Retry-After": "42"})
    ask.click()
    expect(error).to_contain_text("请求过于频繁。请在 42 秒后")
    expect(ask).to_be_disabled()


def test_admin_imports_a_file_and_manages_users_cache_and_audit(
    ui_stack: Stack, open_page: OpenPage, screenshots: Path, tmp_path: Path
) -> None:
    store = f"ui-{uuid.uuid4().hex[:6]}"
    upload = tmp_path / "guides.jsonl"
    lines = [
        json.dumps({"id": f"guide-{n}", "title": f"饮食指导 {n}", "text": f"高血压患者每日食盐少于5克{n}"})
        for n in range(450)  # three batches
    ]
    upload.write_text("\n".join([*lines, "not json", '{"id": "bad id!", "title": "t", "text": "x"}']) + "\n")

    page = open_page(ui_stack.doctor_ui)
    sign_in(page, TEXT["zh"], ADMIN_USERNAME, ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="临床问答")).to_be_visible()
    expect(page.get_by_role("link", name="知识库")).to_be_visible()

    # Knowledge base: import with progress, bad lines reported, then delete a document and the store.
    page.get_by_role("link", name="知识库").click()
    expect(page.locator("#kb-rows")).to_contain_text("diseases")
    page.get_by_label("目标知识库").fill(store)
    page.locator("#kb-import-file").set_input_files(upload)
    page.get_by_role("button", name="开始导入").click()
    expect(page.locator("#kb-import-status")).to_have_text(f"导入完成：450 篇文档已写入“{store}”。")
    expect(page.locator("#kb-import-progress")).to_have_attribute("value", "450")
    expect(page.locator("#kb-import-problems")).to_contain_text("跳过 2 条无效内容")
    row = page.locator("#kb-rows tr", has_text=store)
    expect(row).to_contain_text("450")

    # Browse the store's documents page by page, read one, delete one from the list.
    row.get_by_role("button", name=f"浏览知识库 {store} 的文档").click()
    expect(page.locator("#kb-docs-heading")).to_be_focused()
    expect(page.get_by_label("知识库", exact=True).and_(page.locator("#kb-docs-store"))).to_have_value(store)
    count = page.locator("#kb-docs-count")
    expect(count).to_have_text(f"“{store}”共有 450 篇文档，这里是第 1–20 篇（按入库顺序）。")
    docs = page.locator("#kb-docs-rows tr")
    expect(docs).to_have_count(20)
    expect(page.locator("#kb-docs-page")).to_have_text("第 1 / 23 页")
    page.screenshot(path=screenshots / "doctor-zh-admin-kb.png", full_page=True)
    page.locator("#kb-docs-pager").get_by_role("button", name="下一页").click()
    expect(count).to_have_text(f"“{store}”共有 450 篇文档，这里是第 21–40 篇（按入库顺序）。")
    expect(page.locator("#kb-docs-page")).to_have_text("第 2 / 23 页")
    page.locator("#kb-docs-pager").get_by_role("button", name="上一页").click()
    expect(page.locator("#kb-docs-page")).to_have_text("第 1 / 23 页")

    page.get_by_role("button", name="查看文档 guide-7", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="文档 guide-7")).to_be_visible()
    expect(dialog.locator("dd", has_text="饮食指导 7")).to_be_visible()
    expect(dialog.locator(".passages > li")).to_have_text(["高血压患者每日食盐少于5克7"])
    page.screenshot(path=screenshots / "doctor-zh-admin-kb-document.png")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name="删除文档 guide-7", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="删除").click()
    expect(page.locator("#notice")).to_have_text(f"已从“{store}”删除文档“guide-7”。")
    expect(count).to_contain_text("共有 449 篇文档")
    expect(page.locator("#kb-docs-rows tr", has_text="guide-7")).to_have_count(0)
    expect(row).to_contain_text("449")

    # Deleting by id still works, and the list follows.
    page.locator("#kb-doc").get_by_label("知识库").fill(store)
    page.get_by_label("文档 ID").fill("guide-8")
    page.get_by_role("button", name="删除文档", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="删除").click()
    expect(page.locator("#notice")).to_have_text(f"已从“{store}”删除文档“guide-8”。")
    expect(row).to_contain_text("448")
    expect(count).to_contain_text("共有 448 篇文档")

    row.get_by_role("button", name=f"删除知识库 {store}").click()
    page.get_by_role("dialog").get_by_role("button", name="删除").click()
    expect(page.locator("#notice")).to_have_text(f"已删除知识库“{store}”。")
    expect(row).to_have_count(0)
    expect(docs).to_have_count(0)  # the store browsed is gone
    expect(count).to_be_empty()

    # Users: the list and a new account.
    page.get_by_role("link", name="用户").click()
    expect(page.locator("#users-rows")).to_contain_text(ADMIN_USERNAME)
    new_user = f"dr-new-{uuid.uuid4().hex[:4]}"
    page.locator("#users-create").get_by_label("用户名").fill(new_user)
    page.get_by_label("初始密码").fill("short")
    page.get_by_role("button", name="创建用户").click()
    expect(page.locator("#users-create-error")).to_contain_text("至少 10 个字符")
    page.get_by_label("初始密码").fill("a-long-enough-password")
    page.get_by_role("button", name="创建用户").click()
    expect(page.locator("#users-rows")).to_contain_text(new_user)
    page.screenshot(path=screenshots / "doctor-zh-admin-users.png", full_page=True)

    # Cache statistics and a flush.
    page.get_by_role("link", name="缓存").click()
    expect(page.locator("#cache-rows tr")).to_have_count(4)
    page.get_by_role("button", name="清空知识图谱缓存").click()
    page.get_by_role("dialog").get_by_role("button", name="清空").click()
    expect(page.locator("#notice")).to_contain_text("已清空知识图谱缓存")
    page.screenshot(path=screenshots / "doctor-zh-admin-cache.png", full_page=True)

    # The audit log names what was just done.
    page.get_by_role("link", name="审计日志").click()
    expect(page.locator("#audit-rows")).to_contain_text("创建用户")
    page.get_by_label("记录").fill(f"{store}/guide-7")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#audit-rows tr")).to_have_count(2)  # imported, then deleted
    page.screenshot(path=screenshots / "doctor-zh-admin-audit.png", full_page=True)
