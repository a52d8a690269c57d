// Cookie mode against a real Rotor (COOKIE_SECURE=0, plain HTTP), with a cookie jar standing in
// for the browser's: the tokens stay in HttpOnly cookies the client never reads, unsafe methods
// carry X-CSRF-TOKEN, and an expired access cookie is refreshed once by the refresh cookie.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { RotorClient } from "../dist/index.js";
import { cookieJar, events, newUser, recordingFetch, startRotor } from "./rotor.mjs";

let rotor;
before(async () => {
  rotor = await startRotor({ accessTokenTtl: 2 });
});
after(() => rotor?.stop());

async function signedIn() {
  const user = await newUser(rotor);
  const jar = cookieJar();
  const fetch = recordingFetch(undefined, jar.fetch);
  const client = new RotorClient({ baseUrl: rotor.url, cookies: jar.access, fetch });
  const seen = events(client);
  await client.login(user.email, user.password);
  return { client, fetch, jar, seen, user };
}

test("cookie mode keeps the tokens out of the script's reach", async () => {
  const { client, fetch, jar, user } = await signedIn();
  assert.deepEqual(fetch.sent[0].body, { email: user.email, password: user.password, use_cookies: true });
  assert.deepEqual(jar.names(), [
    "access_token_cookie",
    "csrf_access_token",
    "csrf_refresh_token",
    "refresh_token_cookie",
  ]);
  assert.equal(jar.access.read("access_token_cookie"), null); // HttpOnly
  assert.equal(jar.access.read("refresh_token_cookie"), null);
  assert.equal(await client.accessToken(), null);
  assert.equal(await client.isSignedIn(), true);
  assert.equal((await client.me()).email, user.email);
  assert.equal(fetch.sent.at(-1).headers.authorization, undefined);
});

test("unsafe methods carry the access CSRF cookie in X-CSRF-TOKEN, safe ones nothing", async () => {
  const { client, fetch, jar, seen } = await signedIn();
  const csrf = jar.access.read("csrf_access_token");
  await client.sessions();
  assert.equal(fetch.sent.at(-1).headers["x-csrf-token"], undefined);

  await client.logout();

  assert.equal(fetch.sent.at(-1).path, "/api/auth/logout");
  assert.equal(fetch.sent.at(-1).headers["x-csrf-token"], csrf);
  assert.deepEqual(seen.at(-1), ["signedOut", { reason: "logout" }]);
  assert.deepEqual(jar.names(), []); // Rotor cleared the token cookies, the client the rest
  assert.equal(await client.isSignedIn(), false);
});

test("an expired access cookie is refreshed once, with the refresh CSRF header", async () => {
  const { client, fetch, jar, seen, user } = await signedIn();
  const refreshCsrf = jar.access.read("csrf_refresh_token");
  const expiresAt = jar.get("access_token_cookie").expiresAt;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now())));
  assert.equal(jar.get("access_token_cookie"), undefined); // gone with its token

  const answers = await Promise.all(Array.from({ length: 10 }, () => client.me()));

  assert.deepEqual(new Set(answers.map((me) => me.email)), new Set([user.email]));
  const refreshes = fetch.refreshes();
  assert.equal(refreshes.length, 1);
  assert.equal(refreshes[0].headers["x-csrf-token"], refreshCsrf);
  assert.equal(refreshes[0].body, null); // the token went by its cookie, never by script
  assert.notEqual(jar.access.read("csrf_refresh_token"), refreshCsrf); // rotated
  assert.deepEqual(seen.map(([name]) => name), ["signedIn", "refreshed"]);
});

test("a refused refresh cookie signs out and forgets the CSRF cookies", async () => {
  const { client, jar, seen, user } = await signedIn();
  const other = new RotorClient({ baseUrl: rotor.url });
  await other.login(user.email, user.password);
  await other.logoutAll(); // ends this browser's session too

  await assert.rejects(client.me(), { status: 401 });

  assert.deepEqual(seen.at(-1), ["signedOut", { reason: "session_ended" }]);
  assert.equal(jar.access.read("csrf_refresh_token"), null);
  assert.equal(await client.isSignedIn(), false);
});
