// Refreshing against a real Rotor (ACCESS_TOKEN_TTL=2 s, REFRESH_REUSE_GRACE=10 s): one refresh
// for many callers, a lost answer recovered by the grace replay, reuse and ended sessions
// surfacing as signedOut with their reason.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { memoryStorage, RotorClient } from "../dist/index.js";
import {
  call,
  events,
  newUser,
  recordingFetch,
  startRotor,
  waitUntilExpired,
} from "./rotor.mjs";

let rotor;
before(async () => {
  rotor = await startRotor({ accessTokenTtl: 2, grace: 10 });
});
after(() => rotor?.stop());

/** A client signed in as a new user, the fetch it sends through, and its storage. */
async function signedIn(intercept, options = {}) {
  const user = await newUser(rotor);
  const fetch = recordingFetch(intercept);
  const storage = memoryStorage();
  const client = new RotorClient({ baseUrl: rotor.url, fetch, storage, ...options });
  const seen = events(client);
  await client.login(user.email, user.password);
  const tokens = JSON.parse(storage.getItem("rotor.session"));
  return { client, fetch, storage, seen, tokens, user };
}

test("50 concurrent calls with an expired access token cause exactly one refresh", async () => {
  const { client, fetch, tokens, user } = await signedIn();
  await waitUntilExpired(rotor, tokens.access_token);

  const answers = await Promise.all(
    Array.from({ length: 50 }, () => client.fetch(`${rotor.url}/api/auth/me`)),
  );

  assert.deepEqual(
    answers.map((r) => r.status),
    Array(50).fill(200),
  );
  assert.equal((await answers[49].json()).email, user.email);
  assert.equal(fetch.refreshes().length, 1);
  const expired = fetch.sent.filter((r) => r.headers.authorization === `Bearer ${tokens.access_token}`);
  assert.equal(expired.length, 50); // every call met the expired token, then shared the refresh
});

test("a refresh whose response is dropped recovers through the grace replay", async () => {
  let dropped = null;
  const { client, fetch, seen, storage, tokens } = await signedIn(async (request, send) => {
    const response = await send(request);
    if (dropped === null && request.url.endsWith("/refresh")) {
      dropped = await response.json(); // Rotor rotated; the client never hears of it
      throw new TypeError("fetch failed: connection reset");
    }
    return response;
  });
  await waitUntilExpired(rotor, tokens.access_token);

  const response = await client.fetch(`${rotor.url}/api/auth/me`);

  assert.equal(response.status, 200);
  const refreshes = fetch.refreshes();
  assert.equal(refreshes.length, 2);
  assert.deepEqual(
    refreshes.map((r) => r.body.refresh_token),
    [tokens.refresh_token, tokens.refresh_token], // the same token again, not a logout
  );
  const kept = JSON.parse(storage.getItem("rotor.session"));
  assert.equal(kept.refresh_token, dropped.refresh_token); // Rotor replayed the lost pair
  assert.deepEqual(seen.map(([name]) => name), ["signedIn", "refreshed"]);
  // The replayed pair is the live one: it refreshes, and the consumed token is refused.
  assert.equal((await call(rotor, "POST", "/refresh", { body: { refresh_token: kept.refresh_token } })).status, 200);
});

test("a reused refresh token surfaces as signedOut with reason token_reused", async () => {
  const { client, fetch, seen, storage, tokens } = await signedIn();
  // A thief refreshed with a copy of the client's refresh token, then used the successor.
  const stolen = await call(rotor, "POST", "/refresh", { body: { refresh_token: tokens.refresh_token } });
  const next = await call(rotor, "POST", "/refresh", { body: { refresh_token: stolen.body.refresh_token } });
  assert.equal(next.status, 200);
  await waitUntilExpired(rotor, tokens.access_token);

  const response = await client.fetch(`${rotor.url}/api/auth/me`);

  assert.equal(response.status, 401); // the caller gets the 401 it met
  assert.equal(fetch.refreshes().length, 1);
  assert.deepEqual(seen.at(-1), ["signedOut", { reason: "token_reused" }]);
  assert.equal(storage.getItem("rotor.session"), null);
  assert.equal(await client.isSignedIn(), false);
  // Rotor ended the session: the thief's tokens are dead too.
  const thief = await call(rotor, "POST", "/refresh", { body: { refresh_token: next.body.refresh_token } });
  assert.equal(thief.status, 401);
});

test("a session ended elsewhere surfaces as signedOut with reason session_ended", async () => {
  const { client, fetch, seen, user } = await signedIn();
  const phone = await call(rotor, "POST", "/login", { body: user });
  assert.equal((await call(rotor, "POST", "/logout-all", { token: phone.body.access_token })).status, 204);

  await assert.rejects(client.me(), { name: "RotorError", status: 401 });

  assert.equal(fetch.refreshes().length, 1); // the refresh is what says the session is over
  assert.deepEqual(seen.at(-1), ["signedOut", { reason: "session_ended" }]);
  assert.equal(await client.isSignedIn(), false);
  const later = await client.fetch(`${rotor.url}/api/auth/me`);
  assert.equal(later.status, 401); // sent without a token; nothing left to refresh
  assert.equal(fetch.refreshes().length, 1);
  assert.equal(seen.filter(([name]) => name === "signedOut").length, 1);
});

test("a refresh Rotor could not serve (503) keeps the session and rejects the call", async () => {
  let refusals = 0;
  const unavailable = async (request, send) => {
    if (request.url.endsWith("/refresh") && refusals < 3) {
      refusals += 1;
      const envelope = { error: { code: "store_unavailable", message: "Try again." } };
      return Response.json(envelope, { status: 503 });
    }
    return send(request);
  };
  // Short pauses between the tries: the behaviour is under test, not the timing.
  const { client, fetch, seen } = await signedIn(unavailable, { refreshRetryDelaysMs: [10, 10] });

  await assert.rejects(client.refresh(), { name: "RotorError", status: 503 });
  assert.equal(fetch.refreshes().length, 3); // the first try and both retries
  assert.equal(await client.isSignedIn(), true);
  assert.deepEqual(seen.map(([name]) => name), ["signedIn"]); // not signed out
  assert.equal(await client.refresh(), true); // Rotor is back: the same token still refreshes
  assert.deepEqual(seen.map(([name]) => name), ["signedIn", "refreshed"]);
});

test("a retry that would leave the grace window is not sent; the session stays", async () => {
  const lost = async (request, send) => {
    const response = await send(request);
    if (request.url.endsWith("/refresh")) throw new TypeError("fetch failed: connection reset");
    return response;
  };
  // The window is shorter than the pause: a repeat now could reach Rotor after its grace.
  const { client, fetch, seen } = await signedIn(lost, {
    refreshRetryDelaysMs: [250],
    refreshRetryWindowMs: 100,
  });

  await assert.rejects(client.refresh(), { name: "TypeError" });

  assert.equal(fetch.refreshes().length, 1);
  assert.equal(await client.isSignedIn(), true);
  assert.deepEqual(seen.map(([name]) => name), ["signedIn"]);
});
