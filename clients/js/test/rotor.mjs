// Test helpers: a real Rotor (tests/live_rotor.py: redis-server + gunicorn on free ports),
// fresh users, a fetch that records what the client sends, a cookie jar for cookie mode.
import { spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const PYTHON = process.env.ROTOR_PYTHON ?? path.join(REPO, ".venv", "bin", "python");
export const PASSWORD = "correct horse battery";

/** Start Rotor; `stop()` closes its stdin, which stops it (and it stops if we die). */
export async function startRotor({ accessTokenTtl = 2, grace = 10 } = {}) {
  const args = ["-m", "tests.live_rotor", "--access-token-ttl", `${accessTokenTtl}`];
  const child = spawn(PYTHON, [...args, "--grace", `${grace}`], {
    cwd: REPO,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    exited.then((code) => reject(new Error(`tests.live_rotor exited (${code}) before it was ready`)));
  });
  return {
    ...JSON.parse(line),
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}

/** One HTTP call as another device makes it: { status, body }. */
export async function call(rotor, method, path, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${rotor.url}/api/auth${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

let users = 0;

/** A freshly registered account. */
export async function newUser(rotor) {
  const email = `js-${process.pid}-${++users}@example.com`;
  const { status } = await call(rotor, "POST", "/register", { body: { email, password: PASSWORD } });
  if (status !== 201) throw new Error(`register answered ${status}`);
  return { email, password: PASSWORD };
}

/** Poll (GET /me as another device would) until Rotor says this access token has expired. */
export async function waitUntilExpired(rotor, accessToken) {
  const giveUpAt = Date.now() + 10_000;
  for (;;) {
    const { status, body } = await call(rotor, "GET", "/me", { token: accessToken });
    if (status === 401 && body.error.code === "token_expired") return;
    if (Date.now() > giveUpAt) throw new Error(`access token still answers ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A fetch for the client that delegates to the real one and records every request it sends:
 * `{ method, path, headers, body }`. `intercept(request, send)` may replace the delegation.
 */
export function recordingFetch(intercept = (request, send) => send(request), send = fetch) {
  const sent = [];
  const recorder = async (input, init) => {
    const request = new Request(input, init);
    const body = request.method === "GET" ? null : await request.clone().text();
    sent.push({
      method: request.method,
      path: new URL(request.url).pathname,
      headers: Object.fromEntries(request.headers),
      body: body ? JSON.parse(body) : null,
    });
    return intercept(request, send);
  };
  recorder.sent = sent;
  recorder.refreshes = () => sent.filter((r) => r.path === "/api/auth/refresh");
  return recorder;
}

/**
 * A browser's cookie jar, enough for Rotor: `fetch` sends the cookies whose path matches and
 * stores what Set-Cookie says (Max-Age and Expires included); `access` is the script's view.
 */
export function cookieJar() {
  const cookies = new Map(); // name -> { value, path, expiresAt, httpOnly }
  const live = () => {
    for (const [name, cookie] of cookies) if (cookie.expiresAt <= Date.now()) cookies.delete(name);
    return cookies;
  };
  const fetchWithCookies = async (input, init) => {
    const request = new Request(input, init);
    const { pathname } = new URL(request.url);
    const matching = [...live()].filter(([, cookie]) => pathname.startsWith(cookie.path));
    if (matching.length > 0) {
      request.headers.set("Cookie", matching.map(([name, c]) => `${name}=${c.value}`).join("; "));
    }
    const response = await fetch(request);
    for (const line of response.headers.getSetCookie()) store(line);
    return response;
  };
  function store(line) {
    const [pair, ...attributes] = line.split(";").map((part) => part.trim());
    const eq = pair.indexOf("=");
    const cookie = { value: pair.slice(eq + 1), path: "/", expiresAt: Infinity, httpOnly: false };
    for (const attribute of attributes) {
      const [key, value = ""] = attribute.split("=");
      const name = key.toLowerCase();
      if (name === "path") cookie.path = value;
      if (name === "httponly") cookie.httpOnly = true;
      if (name === "max-age") cookie.expiresAt = Date.now() + Number(value) * 1000;
      if (name === "expires" && cookie.expiresAt === Infinity) cookie.expiresAt = Date.parse(value);
    }
    cookies.set(pair.slice(0, eq), cookie);
  }
  return {
    fetch: fetchWithCookies,
    /** What a page's script sees: never an HttpOnly cookie. */
    access: {
      read: (name) => {
        const cookie = live().get(name);
        return cookie && !cookie.httpOnly ? decodeURIComponent(cookie.value) : null;
      },
      forget: (name) => void cookies.delete(name),
    },
    names: () => [...live().keys()].sort(),
    get: (name) => live().get(name),
  };
}

/** `localStorage` for tabs that share one (plain Node has none). */
export function fakeLocalStorage() {
  const items = new Map();
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => void items.set(key, String(value)),
    removeItem: (key) => void items.delete(key),
    items,
  };
}

/** Collect a client's events as [name, payload] pairs. */
export function events(client) {
  const seen = [];
  for (const name of ["signedIn", "refreshed", "signedOut"]) {
    client.on(name, (payload) => seen.push([name, payload]));
  }
  return seen;
}
