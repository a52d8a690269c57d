import type { WebStorageLike } from "./storage.js";

/**
 * Runs a refresh so that one tab (one JavaScript context) of the origin does it at a time: the
 * others wait, then find the tokens already rotated and skip theirs. Every lock here gives up
 * waiting after a while and runs the task anyway: Rotor's grace window answers two tabs that
 * present the same refresh token with the same new pair, so a lost wait costs a round trip,
 * while a lock that never comes back (a hung or closed tab) would cost the user their session.
 */
export interface RefreshLock {
  run<T>(task: () => Promise<T>): Promise<T>;
}

/** One context only (React Native, Node, memory storage): the in-process single flight is all. */
export const noLock: RefreshLock = { run: (task) => task() };

/** The part of the Web Locks API (`navigator.locks`) this uses. */
export interface LockManagerLike {
  request<T>(
    name: string,
    options: { signal?: AbortSignal },
    callback: () => Promise<T>,
  ): Promise<T>;
}

/**
 * Web Locks: the browser queues the tabs and releases the lock of a tab that closes or crashes.
 * A live tab holds it only as long as its refresh, which the client bounds with timeouts;
 * `waitMs` bounds the wait anyway.
 */
export function webLock(name: string, locks: LockManagerLike, waitMs: number): RefreshLock {
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
        return task(); // waited waitMs: go without the lock
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface LeaseOptions {
  /** How long a lease is good for: the longest a closed tab's lease can keep others waiting. */
  leaseMs: number;
  /** The longest to wait for a live lease before going without it. */
  waitMs: number;
  pollMs?: number;
  /** Time for a rival tab's write to the same key to become visible before checking who won. */
  settleMs?: number;
  now?: () => number;
}

interface Lease {
  owner: string;
  until: number;
}

/**
 * The fallback where Web Locks are missing: a lease in localStorage with an expiry. A tab that
 * closes mid-refresh leaves a lease that simply expires. localStorage has no compare-and-set, so
 * two tabs writing at the same instant could both win; the settle pause makes that rare and the
 * grace window makes it harmless.
 */
export function leaseLock(name: string, storage: WebStorageLike, options: LeaseOptions): RefreshLock {
  const { leaseMs, waitMs, pollMs = 50, settleMs = 30, now = Date.now } = options;
  const key = `${name}:lease`;
  const read = (): Lease | null => {
    try {
      const lease = JSON.parse(storage.getItem(key) ?? "null") as Lease | null;
      return typeof lease?.until === "number" ? lease : null;
    } catch {
      return null; // garbage in the key: treat it as free
    }
  };

  async function acquire(owner: string): Promise<boolean> {
    const giveUpAt = now() + waitMs;
    for (;;) {
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
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
