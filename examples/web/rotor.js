// @rotor/client browser build (clients/js: npm run build). Do not edit.

// src/cookies.ts
var ACCESS_CSRF_COOKIE = "csrf_access_token";
var REFRESH_CSRF_COOKIE = "csrf_refresh_token";
function documentCookies() {
  const doc = globalThis.document;
  if (!doc) throw new TypeError("cookie mode needs document.cookie; pass `cookies: {read, forget}`");
  return {
    read(name) {
      for (const pair of doc.cookie.split("; ")) {
        const eq = pair.indexOf("=");
        if (eq > 0 && pair.slice(0, eq) === name) return decodeURIComponent(pair.slice(eq + 1));
      }
      return null;
    },
    forget(name) {
      const secure = globalThis.location?.protocol === "https:";
      doc.cookie = `${name}=; Max-Age=0; Path=/; SameSite=Strict${secure ? "; Secure" : ""}`;
    }
  };
}

// src/errors.ts
var RotorError = class _RotorError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.name = "RotorError";
  }
  /** Read the envelope of `response` (or make do with its status when there is none). */
  static async from(response) {
    return _RotorError.of(response.status, await errorOf(response));
  }
  static of(status, error) {
    return new _RotorError(
      status,
      error?.code ?? `http_${status}`,
      error?.message ?? `HTTP ${status}`,
      error?.details
    );
  }
};
async function errorOf(response) {
  try {
    return envelopeOf(await response.clone().json());
  } catch {
    return null;
  }
}
function envelopeOf(body) {
  const error = body?.error;
  return typeof error?.code === "string" ? error : null;
}

// src/events.ts
var Emitter = class {
  constructor() {
    this.listeners = {
      signedIn: /* @__PURE__ */ new Set(),
      refreshed: /* @__PURE__ */ new Set(),
      signedOut: /* @__PURE__ */ new Set()
    };
  }
  on(event, listener) {
    this.listeners[event].add(listener);
    return () => void this.listeners[event].delete(listener);
  }
  emit(event, payload) {
    for (const listener of this.listeners[event]) {
      try {
        listener(payload);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
};

// src/locks.ts
var noLock = { run: (task) => task() };
function webLock(name, locks, waitMs) {
  return {
    async run(task) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), waitMs);
      let started = false;
      try {
        return await locks.request(name, { signal: controller.signal }, () => {
          started = true;
          clearTimeout(timer);
          return task();
        });
      } catch (error) {
        if (started || !controller.signal.aborted) throw error;
        return task();
      } finally {
        clearTimeout(timer);
      }
    }
  };
}
function leaseLock(name, storage, options) {
  const { leaseMs, waitMs, pollMs = 50, settleMs = 30, now = Date.now } = options;
  const key = `${name}:lease`;
  const read = () => {
    try {
      const lease = JSON.parse(storage.getItem(key) ?? "null");
      return typeof lease?.until === "number" ? lease : null;
    } catch {
      return null;
    }
  };
  async function acquire(owner) {
    const giveUpAt = now() + waitMs;
    for (; ; ) {
      const lease = read();
      if (lease === null || lease.until <= now()) {
        storage.setItem(key, JSON.stringify({ owner, until: now() + leaseMs }));
        await sleep(settleMs);
        if (read()?.owner === owner) return true;
      }
      if (now() >= giveUpAt) return false;
      await sleep(pollMs);
    }
  }
  return {
    async run(task) {
      const owner = `${now().toString(36)}-${Math.random().toString(36).slice(2)}`;
      const held = await acquire(owner);
      try {
        return await task();
      } finally {
        if (held && read()?.owner === owner) storage.removeItem(key);
      }
    }
  };
}
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// src/storage.ts
function memoryStorage() {
  const items = /* @__PURE__ */ new Map();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key)
  };
}
function webStorage(storage = globalThis.localStorage) {
  if (!storage) throw new TypeError("webStorage: no localStorage here; pass one");
  return {
    getItem: (key) => storage.getItem(key),
    setItem: (key, value) => storage.setItem(key, value),
    removeItem: (key) => storage.removeItem(key),
    shared: true
  };
}
function secureStoreStorage(store) {
  return {
    getItem: (key) => store.getItemAsync(key),
    setItem: (key, value) => store.setItemAsync(key, value),
    removeItem: (key) => store.deleteItemAsync(key)
  };
}

// src/client.ts
var AUTH_PATH = "/api/auth";
var UNSAFE_METHODS = /* @__PURE__ */ new Set(["POST", "PUT", "PATCH", "DELETE"]);
var REFRESHABLE = /* @__PURE__ */ new Set(["token_expired", "token_revoked"]);
var RotorClient = class {
  constructor(options = {}) {
    this.events = new Emitter();
    this.inflight = null;
    /** Whether this client has seen a live session since it last reported one ending. */
    this.active = false;
    /** Cookie mode: the session of this browser's login, to recognise revoking it. */
    this.cookieSessionId = null;
    this.base = (options.baseUrl ?? "").replace(/\/+$/, "") + AUTH_PATH;
    this.jar = options.cookies === true ? documentCookies() : options.cookies || null;
    this.storage = options.storage ?? memoryStorage();
    this.storageKey = options.storageKey ?? "rotor.session";
    const custom = options.fetch;
    this.send = custom ? (request) => custom(request) : (request) => globalThis.fetch(request);
    this.lockName = options.lockName ?? `rotor-refresh:${this.jar ? "cookies" : this.storageKey}`;
    this.lock = this.pickLock(options);
    this.refreshTimeoutMs = options.refreshTimeoutMs ?? 5e3;
    this.retryDelaysMs = options.refreshRetryDelaysMs ?? [250, 1e3];
    this.retryWindowMs = options.refreshRetryWindowMs ?? 8e3;
  }
  /** Subscribe to `signedIn`, `refreshed` or `signedOut`; returns the unsubscribe function. */
  on(event, listener) {
    return this.events.on(event, listener);
  }
  async isSignedIn() {
    return await this.current() !== null;
  }
  /** Bearer mode: the access token to hand to something that is not `fetch` (a WebSocket). */
  async accessToken() {
    return (await this.current())?.tokens?.access_token ?? null;
  }
  async register(email, password) {
    return this.json(await this.post("/register", { email, password }));
  }
  async login(email, password) {
    const body = this.jar ? { email, password, use_cookies: true } : { email, password };
    const pair = await this.json(await this.post("/login", body));
    const sessionId = String(pair.session_id);
    if (this.jar) this.cookieSessionId = sessionId;
    else await this.keep(pair);
    this.active = true;
    this.events.emit("signedIn", { sessionId });
    return {
      sessionId,
      expiresIn: Number(pair.expires_in),
      refreshExpiresIn: Number(pair.refresh_expires_in)
    };
  }
  /** End this session on Rotor and here. Signed out here even when Rotor could not be told
   * (the error is thrown after). */
  async logout() {
    await this.end("/logout");
  }
  /** End every session of the user, this one included. */
  async logoutAll() {
    await this.end("/logout-all");
  }
  async me() {
    return this.json(await this.call("GET", "/me"));
  }
  async sessions() {
    return (await this.json(await this.call("GET", "/sessions"))).sessions;
  }
  /** End one of the user's sessions; ending this one is a logout. */
  async revokeSession(sessionId) {
    const ownSession = (await this.current())?.tokens?.session_id ?? this.cookieSessionId;
    await this.json(await this.call("DELETE", `/sessions/${encodeURIComponent(sessionId)}`));
    if (sessionId === ownSession) await this.signOut("logout");
  }
  /** Change the password; Rotor ends every other session of the user, this one goes on. */
  async changePassword(currentPassword, newPassword) {
    const body = { current_password: currentPassword, new_password: newPassword };
    await this.json(await this.call("POST", "/password", body));
  }
  /** Refresh now (say after the app comes back to the foreground); false when signed out. */
  async refresh() {
    const sent = await this.current();
    return sent !== null && await this.refreshFrom(sent) !== null;
  }
  /**
   * `fetch` for the app's own API: adds the access token (cookie mode: the CSRF header on
   * unsafe methods); on 401 `token_expired` refreshes, once for every caller, and sends the
   * request again, once. When the session has ended the caller gets the 401 and `signedOut`
   * fires. Network errors and a refresh that failed without ending the session reject.
   */
  async fetch(input, init) {
    const request = this.jar && init?.credentials === void 0 ? new Request(input, { ...init, credentials: "include" }) : new Request(input, init);
    const sent = await this.current();
    const response = await this.sendWith(request, sent);
    if (sent === null || !await this.needsRefresh(response)) return response;
    const fresh = await this.refreshFrom(sent);
    return fresh === null ? response : this.sendWith(request, fresh);
  }
  // ---- sending ----------------------------------------------------------------------------
  sendWith(request, current) {
    const attempt = request.clone();
    if (current?.tokens) attempt.headers.set("Authorization", `Bearer ${current.tokens.access_token}`);
    if (this.jar && UNSAFE_METHODS.has(attempt.method)) {
      const csrf = this.jar.read(ACCESS_CSRF_COOKIE);
      if (csrf !== null) attempt.headers.set("X-CSRF-TOKEN", csrf);
    }
    return this.send(attempt);
  }
  /** One of Rotor's endpoints that take the access token. */
  call(method, path, body) {
    return this.fetch(this.base + path, this.init(method, body));
  }
  /** One of Rotor's endpoints that take no access token. */
  post(path, body, headers = {}, signal) {
    const init = this.init("POST", body);
    init.headers = { ...init.headers, ...headers };
    if (signal) init.signal = signal;
    return this.send(new Request(this.base + path, init));
  }
  init(method, body) {
    const init = { method, credentials: this.jar ? "include" : "omit" };
    if (body !== void 0) {
      init.body = JSON.stringify(body);
      init.headers = { "Content-Type": "application/json" };
    }
    return init;
  }
  async json(response) {
    if (!response.ok) throw await RotorError.from(response);
    return response.status === 204 ? void 0 : await response.json();
  }
  async needsRefresh(response) {
    if (response.status !== 401) return false;
    const code = (await errorOf(response))?.code ?? "";
    return REFRESHABLE.has(code) || this.jar !== null && code === "missing_token";
  }
  // ---- refreshing -------------------------------------------------------------------------
  /** The tokens to send again with after `sent` failed: refreshed once for every caller. */
  async refreshFrom(sent) {
    if (this.inflight) return this.inflight;
    const now = await this.current();
    if (now?.marker !== sent.marker) return this.rotatedElsewhere(now);
    this.inflight ?? (this.inflight = this.lock.run(() => this.refreshUnlessRotated(sent)).finally(() => {
      this.inflight = null;
    }));
    return this.inflight;
  }
  async refreshUnlessRotated(sent) {
    const now = await this.current();
    if (now?.marker !== sent.marker) return this.rotatedElsewhere(now);
    return this.rotate(now);
  }
  /** Someone else refreshed (use their tokens) or signed out (so are we). */
  rotatedElsewhere(now) {
    if (now === null) this.reportSignedOut("session_ended");
    return now;
  }
  /**
   * POST /refresh. A refresh whose answer never came is retried with the same refresh token:
   * Rotor may have rotated already, and inside its grace window it answers the repeat with the
   * same new pair instead of treating it as reuse. Only a 401 ends the session here.
   */
  async rotate(current) {
    const firstAttemptAt = Date.now();
    let failure;
    for (const delay of [0, ...this.retryDelaysMs]) {
      if (delay > 0) {
        if (Date.now() + delay - firstAttemptAt > this.retryWindowMs) break;
        await sleep(delay);
      }
      let answer;
      try {
        answer = await this.postRefresh(current);
      } catch (error2) {
        failure = error2;
        continue;
      }
      if (answer.status === 200) return this.refreshed(answer.body);
      const error = envelopeOf(answer.body);
      if (answer.status === 401) {
        await this.signOut(error?.code === "token_reused" ? "token_reused" : "session_ended");
        return null;
      }
      failure = RotorError.of(answer.status, error);
      if (answer.status < 500) break;
    }
    throw failure;
  }
  async postRefresh(current) {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.refreshTimeoutMs);
    try {
      const response = this.jar ? await this.post("/refresh", void 0, { "X-CSRF-TOKEN": current.marker }, timeout.signal) : await this.post(
        "/refresh",
        { refresh_token: current.tokens.refresh_token },
        {},
        timeout.signal
      );
      let body = null;
      try {
        body = await response.json();
      } catch (error) {
        if (timeout.signal.aborted) throw error;
      }
      return { status: response.status, body };
    } finally {
      clearTimeout(timer);
    }
  }
  async refreshed(pair) {
    if (!this.jar) await this.keep(pair);
    const now = await this.current();
    this.events.emit("refreshed", { sessionId: now?.tokens?.session_id ?? this.cookieSessionId });
    return now;
  }
  // ---- state ------------------------------------------------------------------------------
  async current() {
    if (this.jar) {
      const marker = this.jar.read(REFRESH_CSRF_COOKIE);
      return marker === null ? null : this.seen({ marker, tokens: null });
    }
    if (this.cache === void 0 || this.storage.shared) {
      this.cache = parseTokens(await this.storage.getItem(this.storageKey));
    }
    return this.cache ? this.seen({ marker: this.cache.access_token, tokens: this.cache }) : null;
  }
  seen(current) {
    this.active = true;
    return current;
  }
  async keep(pair) {
    const tokens = {
      access_token: String(pair.access_token),
      refresh_token: String(pair.refresh_token),
      session_id: String(pair.session_id),
      expires_at: Date.now() + Number(pair.expires_in) * 1e3
    };
    this.cache = tokens;
    await this.storage.setItem(this.storageKey, JSON.stringify(tokens));
  }
  async end(path) {
    try {
      const response = await this.call("POST", path);
      if (!response.ok && response.status !== 401) throw await RotorError.from(response);
    } finally {
      await this.signOut("logout");
    }
  }
  async signOut(reason) {
    if (this.jar) {
      this.jar.forget(ACCESS_CSRF_COOKIE);
      this.jar.forget(REFRESH_CSRF_COOKIE);
      this.cookieSessionId = null;
    } else {
      this.cache = null;
      await this.storage.removeItem(this.storageKey);
    }
    this.reportSignedOut(reason);
  }
  /** `signedOut`, once per session this client saw. */
  reportSignedOut(reason) {
    if (!this.active) return;
    this.active = false;
    this.events.emit("signedOut", { reason });
  }
  pickLock(options) {
    if (!this.jar && !this.storage.shared) return noLock;
    const waitMs = options.lockWaitMs ?? 15e3;
    const locks = options.locks !== void 0 ? options.locks : globalThis.navigator?.locks;
    if (locks) return webLock(this.lockName, locks, waitMs);
    const lease = options.leaseStorage !== void 0 ? options.leaseStorage : defaultLocalStorage();
    if (lease) return leaseLock(this.lockName, lease, { leaseMs: options.leaseMs ?? 15e3, waitMs });
    return noLock;
  }
};
function parseTokens(raw) {
  if (raw === null) return null;
  try {
    const tokens = JSON.parse(raw);
    if (typeof tokens?.access_token === "string" && typeof tokens.refresh_token === "string") {
      return tokens;
    }
  } catch {
  }
  return null;
}
function defaultLocalStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
export {
  ACCESS_CSRF_COOKIE,
  REFRESH_CSRF_COOKIE,
  RotorClient,
  RotorError,
  documentCookies,
  leaseLock,
  memoryStorage,
  noLock,
  secureStoreStorage,
  webLock,
  webStorage
};
