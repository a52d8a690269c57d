import {
  ACCESS_CSRF_COOKIE,
  type CookieAccess,
  documentCookies,
  REFRESH_CSRF_COOKIE,
} from "./cookies.js";
import { envelopeOf, errorOf, RotorError } from "./errors.js";
import { Emitter, type Listener, type RotorEvents, type SignOutReason } from "./events.js";
import {
  type LockManagerLike,
  leaseLock,
  noLock,
  type RefreshLock,
  sleep,
  webLock,
} from "./locks.js";
import { memoryStorage, type TokenStorage, type WebStorageLike } from "./storage.js";

/** What a bearer-mode client stores (JSON under `storageKey`). */
export interface Tokens {
  access_token: string;
  refresh_token: string;
  session_id: string;
  /** When the access token expires: ms since the epoch by this device's clock. */
  expires_at: number;
}

export interface User {
  id: string;
  email: string;
  created_at: string;
}

export interface Session {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  user_agent: string;
  ip: string;
  current: boolean;
}

export interface SignIn {
  sessionId: string;
  expiresIn: number;
  refreshExpiresIn: number;
}

export interface RotorClientOptions {
  /** Rotor's origin, e.g. "https://auth.example.com"; "" (the default): the page's own. */
  baseUrl?: string;
  /**
   * Cookie mode (browsers): the tokens live in HttpOnly cookies no script can read; the client
   * echoes the CSRF cookies in X-CSRF-TOKEN. `true` uses `document.cookie`.
   */
  cookies?: boolean | CookieAccess;
  /** Bearer mode: where the tokens live. `memoryStorage()` by default. */
  storage?: TokenStorage;
  storageKey?: string;
  /** The platform's `fetch` by default; pass one to add logging, a timeout, a test double. */
  fetch?: typeof globalThis.fetch;
  /** Web Locks for refreshing across tabs; `navigator.locks` by default, null for none. */
  locks?: LockManagerLike | null;
  /** Where the fallback lease lives when Web Locks are missing; `localStorage` by default. */
  leaseStorage?: WebStorageLike | null;
  /** Tabs that share a session share this lock. */
  lockName?: string;
  /** The longest one tab waits for another's refresh before refreshing itself. */
  lockWaitMs?: number;
  /** The fallback lease's lifetime: how long a tab closed mid-refresh can hold up the others. */
  leaseMs?: number;
  /** One refresh attempt's limit (5 s). */
  refreshTimeoutMs?: number;
  /**
   * Pauses before presenting the same refresh token again when a refresh got no answer (a
   * network error, a timeout, a 5xx): 250 ms, then 1 s.
   */
  refreshRetryDelaysMs?: readonly number[];
  /**
   * How long after the first attempt a retry may still be sent (8 s). Keep it inside Rotor's
   * REFRESH_REUSE_GRACE (10 s by default), where Rotor answers a repeat with the same new pair;
   * later, a repeat of a token Rotor did rotate would be reuse, and end the session.
   */
  refreshRetryWindowMs?: number;
}

/** The tokens a call was sent with: the access token, or in cookie mode the refresh CSRF
 * cookie (every rotation replaces it). Comparing markers tells whether someone refreshed. */
interface Current {
  marker: string;
  tokens: Tokens | null;
}

const AUTH_PATH = "/api/auth";
const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** 401 codes that a refresh can cure: an expired access token, or one whose session may have
 * ended (the refresh then says why, and the client signs out). */
const REFRESHABLE = new Set(["token_expired", "token_revoked"]);

/**
 * A client of one Rotor session. Every call that finds the access token expired waits for one
 * refresh, shared by all of them and, where the session is shared (cookies, localStorage), by
 * every tab; then it is sent again, once.
 */
export class RotorClient {
  /** The name of the cross-tab refresh lock (Web Locks) or of the fallback lease's key. */
  readonly lockName: string;
  private readonly base: string;
  private readonly jar: CookieAccess | null;
  private readonly storage: TokenStorage;
  private readonly storageKey: string;
  private readonly send: (request: Request) => Promise<Response>;
  private readonly lock: RefreshLock;
  private readonly events = new Emitter();
  private readonly refreshTimeoutMs: number;
  private readonly retryDelaysMs: readonly number[];
  private readonly retryWindowMs: number;
  /** Bearer mode: the tokens as last read or written; undefined until first read. */
  private cache: Tokens | null | undefined;
  private inflight: Promise<Current | null> | null = null;
  /** Whether this client has seen a live session since it last reported one ending. */
  private active = false;
  /** Cookie mode: the session of this browser's login, to recognise revoking it. */
  private cookieSessionId: string | null = null;

  constructor(options: RotorClientOptions = {}) {
    this.base = (options.baseUrl ?? "").replace(/\/+$/, "") + AUTH_PATH;
    this.jar = options.cookies === true ? documentCookies() : options.cookies || null;
    this.storage = options.storage ?? memoryStorage();
    this.storageKey = options.storageKey ?? "rotor.session";
    const custom = options.fetch;
    this.send = custom ? (request) => custom(request) : (request) => globalThis.fetch(request);
    this.lockName = options.lockName ?? `rotor-refresh:${this.jar ? "cookies" : this.storageKey}`;
    this.lock = this.pickLock(options);
    this.refreshTimeoutMs = options.refreshTimeoutMs ?? 5_000;
    this.retryDelaysMs = options.refreshRetryDelaysMs ?? [250, 1000];
    this.retryWindowMs = options.refreshRetryWindowMs ?? 8_000;
  }

  /** Subscribe to `signedIn`, `refreshed` or `signedOut`; returns the unsubscribe function. */
  on<E extends keyof RotorEvents>(event: E, listener: Listener<E>): () => void {
    return this.events.on(event, listener);
  }

  async isSignedIn(): Promise<boolean> {
    return (await this.current()) !== null;
  }

  /** Bearer mode: the access token to hand to something that is not `fetch` (a WebSocket). */
  async accessToken(): Promise<string | null> {
    return (await this.current())?.tokens?.access_token ?? null;
  }

  async register(email: string, password: string): Promise<User> {
    return this.json<User>(await this.post("/register", { email, password }));
  }

  async login(email: string, password: string): Promise<SignIn> {
    const body = this.jar ? { email, password, use_cookies: true } : { email, password };
    const pair = await this.json<Record<string, unknown>>(await this.post("/login", body));
    const sessionId = String(pair.session_id);
    if (this.jar) this.cookieSessionId = sessionId;
    else await this.keep(pair);
    this.active = true;
    this.events.emit("signedIn", { sessionId });
    return {
      sessionId,
      expiresIn: Number(pair.expires_in),
      refreshExpiresIn: Number(pair.refresh_expires_in),
    };
  }

  /** End this session on Rotor and here. Signed out here even when Rotor could not be told
   * (the error is thrown after). */
  async logout(): Promise<void> {
    await this.end("/logout");
  }

  /** End every session of the user, this one included. */
  async logoutAll(): Promise<void> {
    await this.end("/logout-all");
  }

  async me(): Promise<User> {
    return this.json<User>(await this.call("GET", "/me"));
  }

  async sessions(): Promise<Session[]> {
    return (await this.json<{ sessions: Session[] }>(await this.call("GET", "/sessions"))).sessions;
  }

  /** End one of the user's sessions; ending this one is a logout. */
  async revokeSession(sessionId: string): Promise<void> {
    const ownSession = (await this.current())?.tokens?.session_id ?? this.cookieSessionId;
    await this.json(await this.call("DELETE", `/sessions/${encodeURIComponent(sessionId)}`));
    if (sessionId === ownSession) await this.signOut("logout");
  }

  /** Change the password; Rotor ends every other session of the user, this one goes on. */
  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    const body = { current_password: currentPassword, new_password: newPassword };
    await this.json(await this.call("POST", "/password", body));
  }

  /** Refresh now (say after the app comes back to the foreground); false when signed out. */
  async refresh(): Promise<boolean> {
    const sent = await this.current();
    return sent !== null && (await this.refreshFrom(sent)) !== null;
  }

  /**
   * `fetch` for the app's own API: adds the access token (cookie mode: the CSRF header on
   * unsafe methods); on 401 `token_expired` refreshes, once for every caller, and sends the
   * request again, once. When the session has ended the caller gets the 401 and `signedOut`
   * fires. Network errors and a refresh that failed without ending the session reject.
   */
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request =
      this.jar && init?.credentials === undefined
        ? new Request(input, { ...init, credentials: "include" })
        : new Request(input, init);
    const sent = await this.current();
    const response = await this.sendWith(request, sent);
    if (sent === null || !(await this.needsRefresh(response))) return response;
    const fresh = await this.refreshFrom(sent);
    return fresh === null ? response : this.sendWith(request, fresh);
  }

  // ---- sending ----------------------------------------------------------------------------

  private sendWith(request: Request, current: Current | null): Promise<Response> {
    const attempt = request.clone(); // the original stays unread for a second attempt
    if (current?.tokens) attempt.headers.set("Authorization", `Bearer ${current.tokens.access_token}`);
    if (this.jar && UNSAFE_METHODS.has(attempt.method)) {
      const csrf = this.jar.read(ACCESS_CSRF_COOKIE); // read at each send: a refresh replaces it
      if (csrf !== null) attempt.headers.set("X-CSRF-TOKEN", csrf);
    }
    return this.send(attempt);
  }

  /** One of Rotor's endpoints that take the access token. */
  private call(method: string, path: string, body?: unknown): Promise<Response> {
    return this.fetch(this.base + path, this.init(method, body));
  }

  /** One of Rotor's endpoints that take no access token. */
  private post(
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<Response> {
    const init = this.init("POST", body);
    init.headers = { ...(init.headers as Record<string, string>), ...headers };
    if (signal) init.signal = signal;
    return this.send(new Request(this.base + path, init));
  }

  private init(method: string, body?: unknown): RequestInit {
    // Bearer mode sends no cookies to Rotor: a token in a header and another in a cookie
    // would be refused as ambiguous.
    const init: RequestInit = { method, credentials: this.jar ? "include" : "omit" };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "Content-Type": "application/json" };
    }
    return init;
  }

  private async json<T>(response: Response): Promise<T> {
    if (!response.ok) throw await RotorError.from(response);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }

  private async needsRefresh(response: Response): Promise<boolean> {
    if (response.status !== 401) return false;
    const code = (await errorOf(response))?.code ?? "";
    // Cookie mode: the access cookie expires with its token, so the browser stops sending it
    // and Rotor sees no token at all; the refresh cookie (the caller had one) still works.
    return REFRESHABLE.has(code) || (this.jar !== null && code === "missing_token");
  }

  // ---- refreshing -------------------------------------------------------------------------

  /** The tokens to send again with after `sent` failed: refreshed once for every caller. */
  private async refreshFrom(sent: Current): Promise<Current | null> {
    if (this.inflight) return this.inflight; // its result is the newest there will be
    const now = await this.current();
    if (now?.marker !== sent.marker) return this.rotatedElsewhere(now);
    this.inflight ??= this.lock
      .run(() => this.refreshUnlessRotated(sent))
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  private async refreshUnlessRotated(sent: Current): Promise<Current | null> {
    const now = await this.current(); // again: we may have waited for another tab
    if (now?.marker !== sent.marker) return this.rotatedElsewhere(now);
    return this.rotate(now);
  }

  /** Someone else refreshed (use their tokens) or signed out (so are we). */
  private rotatedElsewhere(now: Current | null): Current | null {
    if (now === null) this.reportSignedOut("session_ended");
    return now;
  }

  /**
   * POST /refresh. A refresh whose answer never came is retried with the same refresh token:
   * Rotor may have rotated already, and inside its grace window it answers the repeat with the
   * same new pair instead of treating it as reuse. Only a 401 ends the session here.
   */
  private async rotate(current: Current): Promise<Current | null> {
    const firstAttemptAt = Date.now();
    let failure: unknown;
    for (const delay of [0, ...this.retryDelaysMs]) {
      if (delay > 0) {
        if (Date.now() + delay - firstAttemptAt > this.retryWindowMs) break; // past the grace
        await sleep(delay);
      }
      let answer: { status: number; body: unknown };
      try {
        answer = await this.postRefresh(current);
      } catch (error) {
        failure = error; // no answer: lost on the way there or back
        continue;
      }
      if (answer.status === 200) return this.refreshed(answer.body as Record<string, unknown>);
      const error = envelopeOf(answer.body);
      if (answer.status === 401) {
        await this.signOut(error?.code === "token_reused" ? "token_reused" : "session_ended");
        return null;
      }
      failure = RotorError.of(answer.status, error);
      if (answer.status < 500) break; // 400, 403, 429: the same request again will not help
    }
    throw failure;
  }

  private async postRefresh(current: Current): Promise<{ status: number; body: unknown }> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.refreshTimeoutMs);
    try {
      const response = this.jar
        ? await this.post("/refresh", undefined, { "X-CSRF-TOKEN": current.marker }, timeout.signal)
        : await this.post(
            "/refresh",
            { refresh_token: current.tokens!.refresh_token },
            {},
            timeout.signal,
          );
      let body: unknown = null;
      try {
        body = await response.json(); // inside the timeout: a body can stall too
      } catch (error) {
        if (timeout.signal.aborted) throw error;
      }
      return { status: response.status, body };
    } finally {
      clearTimeout(timer);
    }
  }

  private async refreshed(pair: Record<string, unknown>): Promise<Current | null> {
    if (!this.jar) await this.keep(pair);
    const now = await this.current();
    this.events.emit("refreshed", { sessionId: now?.tokens?.session_id ?? this.cookieSessionId });
    return now;
  }

  // ---- state ------------------------------------------------------------------------------

  private async current(): Promise<Current | null> {
    if (this.jar) {
      const marker = this.jar.read(REFRESH_CSRF_COOKIE);
      return marker === null ? null : this.seen({ marker, tokens: null });
    }
    if (this.cache === undefined || this.storage.shared) {
      this.cache = parseTokens(await this.storage.getItem(this.storageKey));
    }
    return this.cache ? this.seen({ marker: this.cache.access_token, tokens: this.cache }) : null;
  }

  private seen(current: Current): Current {
    this.active = true;
    return current;
  }

  private async keep(pair: Record<string, unknown>): Promise<void> {
    const tokens: Tokens = {
      access_token: String(pair.access_token),
      refresh_token: String(pair.refresh_token),
      session_id: String(pair.session_id),
      expires_at: Date.now() + Number(pair.expires_in) * 1000,
    };
    this.cache = tokens;
    await this.storage.setItem(this.storageKey, JSON.stringify(tokens));
  }

  private async end(path: string): Promise<void> {
    try {
      const response = await this.call("POST", path);
      // 401: the session had ended already; signed out all the same.
      if (!response.ok && response.status !== 401) throw await RotorError.from(response);
    } finally {
      await this.signOut("logout");
    }
  }

  private async signOut(reason: SignOutReason): Promise<void> {
    if (this.jar) {
      // The HttpOnly token cookies are Rotor's to clear (logout does); dropping the readable
      // half stops every later call from trying to refresh a dead session.
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
  private reportSignedOut(reason: SignOutReason): void {
    if (!this.active) return;
    this.active = false;
    this.events.emit("signedOut", { reason });
  }

  private pickLock(options: RotorClientOptions): RefreshLock {
    if (!this.jar && !this.storage.shared) return noLock; // nobody else sees these tokens
    const waitMs = options.lockWaitMs ?? 15_000;
    const locks =
      options.locks !== undefined
        ? options.locks
        : (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
    if (locks) return webLock(this.lockName, locks, waitMs);
    const lease = options.leaseStorage !== undefined ? options.leaseStorage : defaultLocalStorage();
    if (lease) return leaseLock(this.lockName, lease, { leaseMs: options.leaseMs ?? 15_000, waitMs });
    return noLock;
  }
}

function parseTokens(raw: string | null): Tokens | null {
  if (raw === null) return null;
  try {
    const tokens = JSON.parse(raw) as Partial<Tokens> | null;
    if (typeof tokens?.access_token === "string" && typeof tokens.refresh_token === "string") {
      return tokens as Tokens;
    }
  } catch {
    // not ours, or damaged: signed out
  }
  return null;
}

function defaultLocalStorage(): WebStorageLike | null {
  try {
    return (globalThis as { localStorage?: WebStorageLike }).localStorage ?? null;
  } catch {
    return null; // opaque origins and sandboxed frames throw on access
  }
}
