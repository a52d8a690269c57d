// Rotor cookie-mode demo: the @rotor/client package (its browser build, rotor.js, built from
// clients/js) on the same origin as the API.
//
// The access and refresh tokens are HttpOnly cookies: no script here ever sees a token. The
// client reads only the two CSRF cookies, echoes them in X-CSRF-TOKEN on unsafe methods, and
// refreshes an expired access token once, however many calls and tabs need it (Web Locks, or a
// localStorage lease where they are missing).
import { RotorClient, RotorError } from "./rotor.js";

const API = "/api/auth";
const client = new RotorClient({ cookies: true });

const ENDED = {
  logout: "Logged out.",
  session_ended: "Your session has ended. Sign in again.",
  token_reused:
    "Your session was ended because its refresh token was used twice. If that was not " +
    "you, change your password.",
};
client.on("signedOut", ({ reason }) => showSignedOut(ENDED[reason]));

// The client's fetch wrapper, the way an app calls its own API (and the browser test calls it).
function api(method, path, body) {
  const init = { method };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  return client.fetch(API + path, init);
}

// ---- the page ------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function say(text) {
  $("status").textContent = text;
}

function sayError(error) {
  if (!(error instanceof RotorError)) return say(`Rotor did not answer (${error.message}).`);
  let text = error.message;
  for (const [field, problems] of Object.entries(error.details ?? {})) {
    text += ` ${field}: ${[].concat(problems).join(" ")}`;
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
  if (!(await client.isSignedIn())) return showSignedOut();
  let me, sessions;
  try {
    [me, sessions] = await Promise.all([client.me(), client.sessions()]);
  } catch (error) {
    // A session that ended has already been reported by the signedOut event.
    if (await client.isSignedIn()) sayError(error);
    return;
  }
  $("me").textContent = me.email;
  renderSessions(sessions);
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
  const device = document.createElement("div");
  device.textContent = (session.user_agent || "unknown client") +
    (session.current ? " (this browser)" : "");
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = `${session.ip || "unknown address"} · last used ` +
    new Date(session.last_used_at).toLocaleString();
  label.append(device, meta);

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
  try {
    await client.revokeSession(session.id);
    say("Session ended.");
  } catch (error) {
    // session_not_found: it had ended already; the list below shows the truth either way.
    if (!(error instanceof RotorError && error.code === "session_not_found")) sayError(error);
  }
  try {
    renderSessions(await client.sessions());
  } catch {
    // signed out meanwhile: the signedOut event has shown it
  }
}

async function logout() {
  try {
    await client.logout(); // signedOut("logout") shows the signed-out view
  } catch (error) {
    sayError(error);
  }
}

function credentials() {
  return [$("email").value, $("password").value];
}

async function login() {
  try {
    await client.login(...credentials());
  } catch (error) {
    return sayError(error);
  }
  if (!(await client.isSignedIn())) {
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
  try {
    await client.register(...credentials());
  } catch (error) {
    return sayError(error);
  }
  await login();
}

function wire() {
  $("credentials").addEventListener("submit", (event) => {
    event.preventDefault(); // the API speaks JSON; no form post ever leaves the page
    login();
  });
  $("register").addEventListener("click", register);
  $("reload").addEventListener("click", showAccount);
  $("logout").addEventListener("click", logout);
}

// For the browser console (and the browser test): the client, and API calls the page's way.
window.rotor = Object.freeze({ api, client });

wire();
showAccount();
