export {
  RotorClient,
  type RotorClientOptions,
  type Session,
  type SignIn,
  type Tokens,
  type User,
} from "./client.js";
export {
  ACCESS_CSRF_COOKIE,
  type CookieAccess,
  documentCookies,
  REFRESH_CSRF_COOKIE,
} from "./cookies.js";
export { RotorError } from "./errors.js";
export type { Listener, RotorEvents, SignOutReason } from "./events.js";
export {
  type LeaseOptions,
  type LockManagerLike,
  leaseLock,
  noLock,
  type RefreshLock,
  webLock,
} from "./locks.js";
export {
  memoryStorage,
  type SecureStoreLike,
  secureStoreStorage,
  type TokenStorage,
  type WebStorageLike,
  webStorage,
} from "./storage.js";
