"""The UI sources themselves: the shared modules in one place (frontend/common, served at /common/) and
every import and page link resolving to a file, no way for API text to become markup, nothing loaded
from outside the origin, no inline script or style (the CSP forbids them), and every UI string in both
languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.core.config import PROJECT_ROOT

FRONTEND = PROJECT_ROOT / "frontend"
UIS = ["doctor", "patient"]
# frontend/common: what both UIs load, served to each at /common/ (ui_server.py and nginx.conf).
COMMON = "common"
SOURCES = [*UIS, COMMON]

# Static imports and re-exports (at the start of a line, possibly over several lines), and import("...").
IMPORT = re.compile(
    r"""^\s*(?:import|export)\s+(?:[^;"']*?\s*from\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)""",
    re.MULTILINE,
)


def files(directory: str, suffix: str) -> list[Path]:
    return sorted((FRONTEND / directory).rglob(f"*{suffix}"))


def served_file(ui: str, url: str) -> Path:
    """The file a URL path of the UI's origin is served from (/common/... or the UI's own root)."""
    if url.startswith("/common/"):
        return FRONTEND / COMMON / url.removeprefix("/common/")
    return FRONTEND / ui / url.lstrip("/")


def test_the_shared_modules_exist_once() -> None:
    shared = {path.name for path in (FRONTEND / COMMON).iterdir()}
    assert {"api.js", "dom.js", "i18n.js", "messages.js", "base.css"} <= shared
    for ui in UIS:
        copies = sorted(str(p.relative_to(FRONTEND)) for p in (FRONTEND / ui).rglob("*") if p.name in shared)
        assert not copies, f"{copies}: import /common/<name> instead of keeping a copy"


def import_specifiers(source: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in IMPORT.finditer(source)]


def imports(file: Path) -> list[str]:
    return import_specifiers(file.read_text(encoding="utf-8"))


@pytest.mark.parametrize("ui", UIS)
def test_every_import_and_page_link_resolves_to_a_file(ui: str) -> None:
    seen: set[Path] = set()
    pages = files(ui, ".html")
    queue: list[Path] = []
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for url in re.findall(r"(?:src|href)\s*=\s*\"([^\"#][^\"]*)\"", html):
            target = served_file(ui, url) if url.startswith("/") else page.parent / url
            assert target.is_file(), f"{page.relative_to(PROJECT_ROOT)} links {url}: no such file"
            if target.suffix == ".js":
                queue.append(target)
    assert queue, "no module script"
    while queue:
        module = queue.pop()
        if module in seen:
            continue
        seen.add(module)
        in_common = module.is_relative_to(FRONTEND / COMMON)
        for specifier in imports(module):
            where = f"{module.relative_to(PROJECT_ROOT)} imports {specifier}"
            if in_common:
                # Shared code cannot know which UI loads it: only its own neighbours.
                assert specifier.startswith("./"), f"{where}: shared modules import ./ only"
            assert specifier.startswith(("./", "../", "/common/")), f"{where}: use ./, ../ or /common/"
            target = served_file(ui, specifier) if specifier.startswith("/") else (module.parent / specifier)
            target = target.resolve()
            root = FRONTEND / COMMON if in_common else FRONTEND / ui
            assert target.is_relative_to(root) or specifier.startswith("/common/"), (
                f"{where}: outside {root.name}/"
            )
            assert target.is_file(), f"{where}: no such file"
            queue.append(target)
    # Every module of the UI is reachable from the pages (no dead copy lying around).
    unused = sorted(str(p.relative_to(FRONTEND)) for p in files(ui, ".js") if p.resolve() not in seen)
    assert not unused, f"modules no page loads: {unused}"


UNSAFE_JS = re.compile(
    r"\.(?:innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\s*\("
    r"|setTimeout\(\s*['\"`]|\.setAttribute\(\s*['\"]on|createContextualFragment|DOMParser"
)


@pytest.mark.parametrize("ui", SOURCES)
def test_no_api_text_can_become_markup(ui: str) -> None:
    for file in files(ui, ".js"):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            assert not UNSAFE_JS.search(line), f"{file.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"


@pytest.mark.parametrize("ui", SOURCES)
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
    common = (FRONTEND / COMMON / "messages.js").read_text(encoding="utf-8")
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
    for file in files(ui, ".js") + files(COMMON, ".js"):
        for key in re.findall(r'"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)"', file.read_text(encoding="utf-8")):
            if key.split(".")[0] in namespaces:
                used.add(key)
    assert sorted(used - zh) == [], "used but not defined"
