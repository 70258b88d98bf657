"""The UI sources themselves: shared modules kept identical, no way for API text to become markup, nothing
loaded from outside the origin, no inline script or style (the CSP forbids them), and every UI string
in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.core.config import PROJECT_ROOT

FRONTEND = PROJECT_ROOT / "frontend"
UIS = ["doctor", "patient"]
# Served from each UI's own root, so each UI carries a copy.
SHARED = ["js/common", "css/base.css"]


def files(ui: str, suffix: str) -> list[Path]:
    return sorted((FRONTEND / ui).rglob(f"*{suffix}"))


def shared_files(ui: str) -> dict[str, str]:
    found = {}
    for entry in SHARED:
        path = FRONTEND / ui / entry
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            found[str(file.relative_to(FRONTEND / ui))] = file.read_text(encoding="utf-8")
    return found


def test_shared_modules_are_identical_in_both_uis() -> None:
    doctor, patient = shared_files("doctor"), shared_files("patient")
    assert doctor.keys() == patient.keys()
    different = [name for name in doctor if doctor[name] != patient[name]]
    assert not different, f"copy frontend/doctor/{different[0]} to frontend/patient/ (and back)"


UNSAFE_JS = re.compile(
    r"\.(?:innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\s*\("
    r"|setTimeout\(\s*['\"`]|\.setAttribute\(\s*['\"]on|createContextualFragment|DOMParser"
)


@pytest.mark.parametrize("ui", UIS)
def test_no_api_text_can_become_markup(ui: str) -> None:
    for file in files(ui, ".js"):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            assert not UNSAFE_JS.search(line), f"{file.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"


@pytest.mark.parametrize("ui", UIS)
def test_pages_have_no_inline_script_or_style_and_load_nothing_from_elsewhere(ui: str) -> None:
    for page in files(ui, ".html"):
        html = page.read_text(encoding="utf-8")
        for script in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.DOTALL):
            assert 'src="' in script.group(1), f"{page}: inline script"
            assert not script.group(2).strip(), f"{page}: inline script"
        assert "<style" not in html, f"{page}: inline <style>"
        assert not re.search(r"\sstyle\s*=", html), f"{page}: style attribute"
        assert not re.search(r"\son[a-z]+\s*=", html), f"{page}: inline event handler"
        for url in re.findall(r"(?:src|href)\s*=\s*\"([^\"]*)\"", html):
            assert not re.match(r"^(?:[a-z]+:)?//", url), f"{page}: loads {url}"
    for file in files(ui, ".js") + files(ui, ".css") + files(ui, ".html"):
        text = file.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{file}: an absolute URL"
        assert "@import" not in text, f"{file}: @import"


def dictionary(source: str, start: str, end: str | None) -> set[str]:
    block = source.split(start, 1)[1]
    if end:
        block = block.split(end, 1)[0]
    return set(re.findall(r'^\s*"([a-z0-9_.]+)":\s*"', block, re.MULTILINE))


def ui_strings(ui: str) -> tuple[set[str], set[str]]:
    own = (FRONTEND / ui / "js" / "strings.js").read_text(encoding="utf-8")
    common = (FRONTEND / ui / "js" / "common" / "messages.js").read_text(encoding="utf-8")
    zh = dictionary(own, "const zh = {", "const en = {") | dictionary(common, "zh: {", "en: {")
    en = dictionary(own, "const en = {", None) | dictionary(common, "en: {", None)
    return zh, en


@pytest.mark.parametrize("ui", UIS)
def test_every_ui_string_exists_in_chinese_and_english(ui: str) -> None:
    zh, en = ui_strings(ui)
    assert zh, "no strings found"
    assert sorted(zh - en) == [], "missing in English"
    assert sorted(en - zh) == [], "missing in Chinese"

    namespaces = {key.split(".")[0] for key in zh}
    used: set[str] = set()
    for page in files(ui, ".html"):
        html = page.read_text(encoding="utf-8")
        used |= set(re.findall(r'data-i18n="([^"]+)"', html))
        for attrs in re.findall(r'data-i18n-attr="([^"]+)"', html):
            used |= {pair.split(":")[1].strip() for pair in attrs.split(";")}
    for file in files(ui, ".js"):
        for key in re.findall(r'"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)"', file.read_text(encoding="utf-8")):
            if key.split(".")[0] in namespaces:
                used.add(key)
    assert sorted(used - zh) == [], "used but not defined"
