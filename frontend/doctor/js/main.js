// The doctor workstation: sign-in, then the views (clinical QA, inbox and, for admins, knowledge
// base, users, cache, audit), switched by the URL fragment (#qa, #inbox...). No token or patient
// data ever goes into the URL.

import { ApiError } from "/common/api.js";
import { $, $$, cooldown, show } from "/common/dom.js";
import { bindLanguageToggle, onLangChange, setupI18n, t } from "/common/i18n.js";
import { hush, say, sayError } from "/common/ui.js";
import * as auth from "./auth.js";
import { clearNotice } from "./notice.js";
import { STRINGS } from "./strings.js";
import * as audit from "./views/audit.js";
import * as cache from "./views/cache.js";
import * as inbox from "./views/inbox.js";
import * as kb from "./views/kb.js";
import * as qa from "./views/qa.js";
import * as users from "./views/users.js";

const VIEWS = { qa, inbox, kb, users, cache, audit };
const ADMIN_VIEWS = new Set(["kb", "users", "cache", "audit"]);
const DEFAULT_VIEW = "qa";

setupI18n(STRINGS, "medqa.doctor.lang");
bindLanguageToggle($("#lang-toggle"));
for (const view of Object.values(VIEWS)) view.init();

let signedIn = false;

function viewFromHash() {
  const name = decodeURIComponent(location.hash.replace(/^#/, ""));
  if (!(name in VIEWS)) return DEFAULT_VIEW;
  if (ADMIN_VIEWS.has(name) && !auth.isAdmin()) return DEFAULT_VIEW;
  return name;
}

function renderUser() {
  const session = auth.current();
  show($("#user-info"), signedIn);
  show($("#signout"), signedIn);
  show($("#nav"), signedIn);
  $("#user-name").textContent = signedIn
    ? t("user.signed_in", { name: session.username, role: t(`role.${session.role}`) })
    : "";
  for (const item of $$(".admin-only")) show(item, signedIn && auth.isAdmin());
}

function showView(name, { focus = true } = {}) {
  for (const section of $$("main > section.view")) show(section, section.id === `view-${name}`);
  for (const link of $$("#nav a[data-view]")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const heading = $(`#view-${name} h1`);
  if (focus && heading) heading.focus();
}

function route({ focus = true } = {}) {
  if (!signedIn) {
    showView("login", { focus });
    return;
  }
  clearNotice();
  const name = viewFromHash();
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  showView(name, { focus });
  VIEWS[name].enter?.();
}

/** Back to the sign-in screen; messageKey says why (expired, signed out). */
function showLogin(messageKey = null) {
  signedIn = false;
  for (const view of Object.values(VIEWS)) view.reset(); // no patient data stays on the page
  clearNotice();
  renderUser();
  const message = $("#login-message");
  if (messageKey) say(message, () => t(messageKey));
  else hush(message);
  hush($("#login-error"));
  $("#login-password").value = "";
  showView("login", { focus: false });
  $("#login-username").focus();
}

function enterApp() {
  signedIn = true;
  hush($("#login-message"));
  renderUser();
  route({ focus: true });
}

// The skip link moves focus without touching the fragment (which names the view).
$(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  $("#main").focus();
});

auth.onExpired(() => showLogin("login.expired"));
onLangChange(renderUser);
window.addEventListener("hashchange", () => route());

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = $("#login-username").value.trim();
  const password = $("#login-password").value;
  const errorBox = $("#login-error");
  const submit = $("#login-submit");
  hush(errorBox);
  hush($("#login-message"));
  if (!username || !password) {
    say(errorBox, () => t("login.required"));
    (username ? $("#login-password") : $("#login-username")).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = t("login.busy");
  let ok = false;
  try {
    await auth.signIn(username, password);
    ok = true;
  } catch (error) {
    sayError(errorBox, error, () => ({
      fields: { username: t("login.username"), password: t("login.password") },
      401: t("err.invalid_credentials"),
    }));
    $("#login-password").select();
    if (error instanceof ApiError && (error.status === 429 || error.status === 503)) {
      submit.textContent = t("login.submit");
      cooldown(submit, error.retryAfter);
      return;
    }
  } finally {
    if (!submit.dataset.cooldownUntil) {
      submit.disabled = false;
      submit.textContent = t("login.submit");
    }
  }
  if (ok) {
    $("#login-password").value = "";
    enterApp();
  }
});

$("#signout").addEventListener("click", async () => {
  $("#signout").disabled = true;
  await auth.signOut();
  $("#signout").disabled = false;
  showLogin("login.signed_out");
});

// After a reload in the same tab: the stored sign-in is checked (and refreshed) before use.
async function start() {
  if (!auth.current()) {
    showLogin();
    return;
  }
  try {
    await auth.whoAmI();
    enterApp();
  } catch (error) {
    if (!auth.current()) return; // expired: onExpired showed the sign-in screen
    // Service busy or unreachable: stay signed in, show the error on the sign-in screen's place.
    showLogin();
    sayError($("#login-error"), error);
  }
}

start();
