// The client's API, events, storage adapters and cross-tab locks against a real Rotor.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { RotorClient, secureStoreStorage, webStorage } from "../dist/index.js";
import {
  call,
  events,
  fakeLocalStorage,
  newUser,
  PASSWORD,
  recordingFetch,
  startRotor,
  waitUntilExpired,
} from "./rotor.mjs";

let rotor;
before(async () => {
  rotor = await startRotor({ accessTokenTtl: 2 });
});
after(() => rotor?.stop());

test("login, me, sessions, revokeSession, changePassword and logout speak the API", async () => {
  const user = await newUser(rotor);
  const client = new RotorClient({ baseUrl: rotor.url });
  const seen = events(client);

  const signIn = await client.login(user.email, user.password);
  assert.equal(signIn.expiresIn, 2);
  assert.deepEqual(seen, [["signedIn", { sessionId: signIn.sessionId }]]);
  assert.equal((await client.me()).email, user.email);

  const laptop = await call(rotor, "POST", "/login", { body: user });
  const sessions = await client.sessions();
  assert.equal(sessions.length, 2);
  assert.equal(sessions.find((s) => s.current).id, signIn.sessionId);
  await client.revokeSession(laptop.body.session_id);
  assert.deepEqual((await client.sessions()).map((s) => s.id), [signIn.sessionId]);
  await assert.rejects(client.revokeSession(laptop.body.session_id), {
    name: "RotorError",
    status: 404,
    code: "session_not_found",
  });

  const phone = await call(rotor, "POST", "/login", { body: user });
  await client.changePassword(PASSWORD, "another long passphrase");
  const phoneRefresh = { refresh_token: phone.body.refresh_token };
  assert.equal((await call(rotor, "POST", "/refresh", { body: phoneRefresh })).status, 401);
  assert.equal((await client.me()).email, user.email); // this session goes on

  const access = await client.accessToken();
  await client.logout();
  assert.deepEqual(seen.at(-1), ["signedOut", { reason: "logout" }]);
  assert.equal(await client.isSignedIn(), false);
  assert.equal((await call(rotor, "GET", "/me", { token: access })).status, 401);
  await assert.rejects(client.me(), { status: 401, code: "missing_token" });
});

test("Rotor's refusals arrive as RotorError with the envelope's code", async () => {
  const user = await newUser(rotor);
  const client = new RotorClient({ baseUrl: rotor.url });
  await assert.rejects(client.register(user.email, PASSWORD), { status: 409, code: "email_taken" });
  await assert.rejects(client.login(user.email, "not the password"), {
    status: 401,
    code: "invalid_credentials",
  });
  const invalid = await client.register("not-an-email", "short").catch((error) => error);
  assert.equal(invalid.code, "validation_error");
  assert.ok(invalid.details.email && invalid.details.password);
  assert.equal(await client.isSignedIn(), false);
});

test("revoking its own session and logoutAll sign the client out with reason logout", async () => {
  const user = await newUser(rotor);
  const first = new RotorClient({ baseUrl: rotor.url });
  const second = new RotorClient({ baseUrl: rotor.url });
  const firstEvents = events(first);
  const secondEvents = events(second);
  const { sessionId } = await first.login(user.email, user.password);
  await second.login(user.email, user.password);

  await first.revokeSession(sessionId);
  assert.deepEqual(firstEvents.at(-1), ["signedOut", { reason: "logout" }]);
  assert.equal(await first.isSignedIn(), false);

  await first.login(user.email, user.password);
  await first.logoutAll();
  assert.deepEqual(firstEvents.at(-1), ["signedOut", { reason: "logout" }]);
  await assert.rejects(second.me(), { status: 401 }); // its session ended with the others
  assert.deepEqual(secondEvents.at(-1), ["signedOut", { reason: "session_ended" }]);
});

test("the React Native adapter keeps the tokens in the secure store across app restarts", async () => {
  const user = await newUser(rotor);
  // An in-memory stand-in for expo-secure-store (Keychain / Keystore on a device).
  const items = new Map();
  const SecureStore = {
    getItemAsync: async (key) => items.get(key) ?? null,
    setItemAsync: async (key, value) => void items.set(key, value),
    deleteItemAsync: async (key) => void items.delete(key),
  };
  const app = new RotorClient({ baseUrl: rotor.url, storage: secureStoreStorage(SecureStore) });
  const { sessionId } = await app.login(user.email, user.password);
  assert.equal(JSON.parse(items.get("rotor.session")).session_id, sessionId);

  const restarted = new RotorClient({ baseUrl: rotor.url, storage: secureStoreStorage(SecureStore) });
  assert.equal((await restarted.me()).email, user.email);
  await restarted.logout();
  assert.equal(items.size, 0);
});

test("tabs sharing localStorage refresh once through the lease when Web Locks are missing", async () => {
  const user = await newUser(rotor);
  const localStorage = fakeLocalStorage(); // one origin's storage, seen by both tabs
  const fetch = recordingFetch();
  const tab = () =>
    new RotorClient({
      baseUrl: rotor.url,
      fetch,
      storage: webStorage(localStorage),
      locks: null,
      leaseStorage: localStorage,
    });
  const [first, second] = [tab(), tab()];
  await first.login(user.email, user.password);
  assert.equal(await second.isSignedIn(), true); // it reads the same storage
  await waitUntilExpired(rotor, await second.accessToken());

  const answers = await Promise.all(
    [first, second, first, second, first, second].map((t) => t.fetch(`${rotor.url}/api/auth/me`)),
  );

  assert.deepEqual(
    answers.map((r) => r.status),
    Array(6).fill(200),
  );
  assert.equal(fetch.refreshes().length, 1); // the tab that waited found fresh tokens
  assert.deepEqual([...localStorage.items.keys()], ["rotor.session"]); // the lease is gone
});

test("a lease left by a closed tab holds up a refresh only until it expires", async () => {
  const user = await newUser(rotor);
  const localStorage = fakeLocalStorage();
  let refreshSentAt = null;
  const fetch = recordingFetch((request, send) => {
    if (request.url.endsWith("/refresh")) refreshSentAt = Date.now();
    return send(request);
  });
  const client = new RotorClient({
    baseUrl: rotor.url,
    fetch,
    storage: webStorage(localStorage),
    locks: null,
    leaseStorage: localStorage,
  });
  await client.login(user.email, user.password);
  const until = Date.now() + 300; // a tab took the lease and closed
  localStorage.setItem(`${client.lockName}:lease`, JSON.stringify({ owner: "closed-tab", until }));

  assert.equal(await client.refresh(), true);
  assert.ok(refreshSentAt >= until, "refreshed before the lease had expired");
  assert.equal(localStorage.getItem(`${client.lockName}:lease`), null);
});

/** Web Locks as the browser gives them: one holder per name, the others queue. */
function webLocks() {
  const tails = new Map();
  return {
    requested: [],
    async request(name, _options, callback) {
      this.requested.push(name);
      const previous = tails.get(name) ?? Promise.resolve();
      let release;
      tails.set(name, new Promise((resolve) => (release = resolve)));
      await previous;
      try {
        return await callback();
      } finally {
        release();
      }
    },
  };
}

test("tabs sharing a session queue on one Web Lock and refresh once", async () => {
  const user = await newUser(rotor);
  const localStorage = fakeLocalStorage();
  const locks = webLocks();
  const fetch = recordingFetch();
  const tab = () =>
    new RotorClient({ baseUrl: rotor.url, fetch, storage: webStorage(localStorage), locks });
  const [first, second] = [tab(), tab()];
  await first.login(user.email, user.password);

  assert.deepEqual(await Promise.all([first.refresh(), second.refresh()]), [true, true]);
  assert.equal(fetch.refreshes().length, 1);
  assert.deepEqual(locks.requested, ["rotor-refresh:rotor.session", "rotor-refresh:rotor.session"]);
});

test("a Web Lock that never comes back holds up a refresh only lockWaitMs", async () => {
  const user = await newUser(rotor);
  const localStorage = fakeLocalStorage();
  const hung = {
    // Another tab holds the lock and will never let go (hung, not closed).
    request: (_name, { signal }, _callback) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener("abort", () => reject(new DOMException("gave up", "AbortError")));
      }),
  };
  const fetch = recordingFetch();
  const client = new RotorClient({
    baseUrl: rotor.url,
    fetch,
    storage: webStorage(localStorage),
    locks: hung,
    lockWaitMs: 200,
  });
  await client.login(user.email, user.password);

  assert.equal(await client.refresh(), true);
  assert.equal(fetch.refreshes().length, 1);
});
