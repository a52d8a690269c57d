// Rotor cookie-mode demo: plain JS, no build step, same origin as the API.
//
// The access and refresh tokens are HttpOnly cookies: this script never sees a token. It only
// reads the two CSRF cookies, to echo them in X-CSRF-TOKEN (double submit), and uses the
// refresh one as a "which refresh are we on" marker: every rotation replaces it.
"use strict";

const API = "/api/auth";
const ACCESS_CSRF = "csrf_access_token";
const REFRESH_CSRF = "csrf_refresh_token";
const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

// ---- cookies -------------------------------------------------------------------------------

function readCookie(name) {
  for (const pair of document.cookie.split("; ")) {
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.slice(0, eq) === name) return decodeURIComponent(pair.slice(eq + 1));
  }
  return null;
}

// Drop the script-readable half of a dead session, so no later call keeps trying to refresh
// it. The HttpOnly token cookies are the server's to clear (logout does).
function forgetSession() {
  for (const name of [ACCESS_CSRF, REFRESH_CSRF]) {
    document.cookie = `${name}=; Max-Age=0; Path=/; SameSite=Strict`;
  }
}

// ---- the one fetch wrapper -----------------------------------------------------------------

// Every API call goes through here. After an expired access token it refreshes (once, shared
// with every other call and tab that needs it) and retries the call once.
async function api(method, path, body) {
  // The refresh "generation" this call starts from. If it has changed by the time a 401
  // comes back, another call or tab refreshed meanwhile and a plain retry is enough.
  const generation = readCookie(REFRESH_CSRF);
  const response = await send(method, path, body);
  if (!(await accessExpired(response))) return response;
  await refreshOnce(generation);
  return send(method, path, body);
}

function send(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // Read at every send, not once: a refresh replaces the CSRF cookie along with the token.
  if (UNSAFE_METHODS.has(method)) headers["X-CSRF-TOKEN"] = readCookie(ACCESS_CSRF) ?? "";
  return fetch(API + path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function errorCode(response) {
  try {
    const { error } = await response.clone().json();  // clone: the caller may read it too
    return error?.code ?? null;
  } catch {
    return null;  // not the JSON envelope
  }
}

async function accessExpired(response) {
  if (response.status !== 401) return false;
  const code = await errorCode(response);
  if (code === "token_expired") return true;
  // The access cookie lives exactly as long as its token, so after expiry the browser usually
  // stops sending it and the server sees no token at all. While the refresh CSRF cookie is
  // still here, so is the refresh cookie: refreshing is the right answer to that too.
  return code === "missing_token" && readCookie(REFRESH_CSRF) !== null;
}

// ---- single-flight refresh -----------------------------------------------------------------

let refreshInFlight = null;

// Within this tab: every caller that needs a refresh while one is running shares its promise.
function refreshOnce(generation) {
  refreshInFlight ??= refreshAcrossTabs(generation).finally(() => {
    refreshInFlight = null;
  });
  return refreshInFlight;
}

// Across tabs: the Web Lock lets one tab of this origin refresh at a time; the others wait,
// then find the cookies already rotated and skip. Without the lock, two tabs would both
// present the same refresh token; the server's grace window would still save the session,
// but every tab's refresh would be a wasted round trip.
function refreshAcrossTabs(generation) {
  if (!navigator.locks) return refreshUnlessRotated(generation);  // older browsers
  return navigator.locks.request("rotor-refresh", () => refreshUnlessRotated(generation));
}

// Resolves true when fresh cookies are in place (by us or by someone else).
async function refreshUnlessRotated(generation) {
  const current = readCookie(REFRESH_CSRF);  // re-read: we may have waited for the lock
  if (current !== generation) return current !== null;
  if (current === null) return false;  // no session to refresh
  const response = await fetch(`${API}/refresh`, {
    method: "POST",
    headers: { "X-CSRF-TOKEN": current },
    credentials: "same-origin",
  });
  if (response.status === 401) forgetSession();  // expired, ended or reused: sign in again
  return response.ok;
}

// ---- the page ------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function say(text) {
  $("status").textContent = text;
}

async function sayError(response) {
  let text = `HTTP ${response.status}`;
  try {
    const { error } = await response.json();
    text = error.message;
    for (const [field, problems] of Object.entries(error.details ?? {})) {
      text += ` ${field}: ${[].concat(problems).join(" ")}`;
    }
  } catch {
    // not the JSON envelope: the status says enough
  }
  say(text);
}

function showSignedOut(message = "") {
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
  $("me").textContent = "";
  $("sessions").replaceChildren();
  say(message);
}

// Who am I and where am I signed in: two calls in parallel, so an expired token is met by
// both at once and the single-flight refresh gets its everyday exercise.
async function showAccount() {
  const [me, list] = await Promise.all([api("GET", "/me"), api("GET", "/sessions")]);
  if (!me.ok || !list.ok) {
    const wasSignedIn = !$("signed-in").hidden;
    return showSignedOut(wasSignedIn ? "Your session has ended. Sign in again." : "");
  }
  $("me").textContent = (await me.json()).email;
  renderSessions((await list.json()).sessions);
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
}

function renderSessions(sessions) {
  $("sessions").replaceChildren(...sessions.map(sessionItem));
}

// Built with DOM calls, never innerHTML: the user agent string is attacker-controlled text.
function sessionItem(session) {
  const item = document.createElement("li");
  item.dataset.sessionId = session.id;
  item.classList.toggle("current", session.current);

  const label = document.createElement("div");
  const client = document.createElement("div");
  client.textContent = (session.user_agent || "unknown client") +
    (session.current ? " (this browser)" : "");
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = `${session.ip || "unknown address"} · last used ` +
    new Date(session.last_used_at).toLocaleString();
  label.append(client, meta);

  const end = document.createElement("button");
  end.type = "button";
  end.textContent = session.current ? "End (log out)" : "End";
  end.addEventListener("click", () => endSession(session));

  item.append(label, end);
  return item;
}

async function endSession(session) {
  // Ending our own session is a logout: that also clears this browser's cookies.
  if (session.current) return logout();
  const response = await api("DELETE", `/sessions/${encodeURIComponent(session.id)}`);
  // 404: it had ended already; the list below shows the truth either way.
  if (!response.ok && response.status !== 404) return sayError(response);
  say("Session ended.");
  const list = await api("GET", "/sessions");
  if (!list.ok) return showSignedOut();
  renderSessions((await list.json()).sessions);
}

async function logout() {
  const response = await api("POST", "/logout");
  // 401: the session had ended already; this browser is signed out either way.
  if (!response.ok && response.status !== 401) return sayError(response);
  forgetSession();
  showSignedOut("Logged out.");
}

function credentials() {
  return { email: $("email").value, password: $("password").value };
}

async function login() {
  const response = await api("POST", "/login", { ...credentials(), use_cookies: true });
  if (!response.ok) return sayError(response);
  if (readCookie(REFRESH_CSRF) === null) {
    // The browser refused the cookies: Secure ones are not accepted over plain HTTP.
    return say("Logged in, but the browser dropped the cookies (Secure cookies need https; " +
      "for local http:// run Rotor with COOKIE_SECURE=0).");
  }
  $("password").value = "";
  say("");
  await showAccount();
}

async function register() {
  if (!$("credentials").reportValidity()) return;
  const response = await api("POST", "/register", credentials());
  if (!response.ok) return sayError(response);
  await login();
}

function wire() {
  $("credentials").addEventListener("submit", (event) => {
    event.preventDefault();  // the API speaks JSON; no form post ever leaves the page
    login();
  });
  $("register").addEventListener("click", register);
  $("reload").addEventListener("click", showAccount);
  $("logout").addEventListener("click", logout);
}

// For the browser console (and the browser test): call the API the way the page does.
window.rotor = Object.freeze({ api });

wire();
showAccount();
