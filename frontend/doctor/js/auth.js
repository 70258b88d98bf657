// The doctor's sign-in: tokens live in this tab's sessionStorage only (never in a URL, never in
// localStorage). Every API call goes through call(): it sends the access token and, on a 401,
// refreshes once (one refresh at a time, shared by concurrent calls) and retries; when that fails
// the sign-in is over and the listeners of onExpired() take the user back to the sign-in screen.

import { ApiError, apiFetch } from "/common/api.js";

const STORAGE_KEY = "medqa.doctor.auth";
const EARLY_REFRESH_MS = 15_000; // refresh this long before the access token expires

let session = load();
let refreshing = null;
const expiredListeners = new Set();

function load() {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    const value = raw ? JSON.parse(raw) : null;
    return value && typeof value.access === "string" ? value : null;
  } catch {
    return null;
  }
}

function save() {
  try {
    if (session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage disabled: the sign-in lasts as long as the page
  }
}

function setTokens(tokens) {
  session = {
    ...(session || {}),
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    expiresAt: Date.now() + Number(tokens.expires_in || 0) * 1000,
  };
  save();
}

function clear() {
  session = null;
  save();
}

export function current() {
  return session;
}

export function isAdmin() {
  return session?.role === "admin";
}

export function onExpired(listener) {
  expiredListeners.add(listener);
}

function expire() {
  if (!session) return;
  clear();
  for (const listener of expiredListeners) listener();
}

export async function signIn(username, password) {
  clear();
  const tokens = await apiFetch("/api/v1/auth/token", {
    method: "POST",
    form: { grant_type: "password", username, password },
  });
  setTokens(tokens);
  return whoAmI();
}

/** Reads (or re-reads, after a reload) who is signed in. */
export async function whoAmI() {
  const me = await call("/api/v1/auth/me");
  session = { ...session, username: me.username, role: me.role };
  save();
  return session;
}

export async function signOut() {
  const ending = session;
  if (!ending) return;
  try {
    await call("/api/v1/auth/logout", { method: "POST", json: { refresh_token: ending.refresh } }, { quiet: true });
  } catch {
    // Signed out here whatever the service says: the tokens are dropped below.
  }
  clear();
}

/** A new token pair for the refresh token; false when the sign-in cannot be renewed. */
async function refresh() {
  if (!refreshing) {
    const using = session;
    refreshing = (async () => {
      if (!using?.refresh) return false;
      try {
        const tokens = await apiFetch("/api/v1/auth/refresh", {
          method: "POST",
          json: { refresh_token: using.refresh },
        });
        if (session !== using) return Boolean(session); // signed out (or in again) meanwhile
        setTokens(tokens);
        return true;
      } catch (error) {
        if (error instanceof ApiError && (error.status === 401 || error.status === 422)) return false;
        throw error; // busy, rate limited, offline: still signed in, the call fails with this error
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

function signInExpired() {
  return new ApiError({ status: 401, code: "token_expired" });
}

/**
 * apiFetch with the access token. `quiet`: an ended sign-in is not announced (for logout).
 */
export async function call(path, options = {}, { quiet = false } = {}) {
  if (!session) throw signInExpired();
  if (session.expiresAt && Date.now() > session.expiresAt - EARLY_REFRESH_MS) {
    try {
      await refresh();
    } catch {
      // try the call anyway; its own 401 handling decides
    }
    if (!session) throw signInExpired();
  }
  const used = session.access;
  try {
    return await apiFetch(path, { ...options, token: used });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    // Another call may have refreshed while this one was on its way.
    const renewed = session && session.access !== used ? true : await refresh();
    if (!renewed || !session) {
      if (quiet) clear();
      else expire();
      throw error;
    }
    try {
      return await apiFetch(path, { ...options, token: session.access });
    } catch (again) {
      if (again instanceof ApiError && again.status === 401) {
        if (quiet) clear();
        else expire();
      }
      throw again;
    }
  }
}
