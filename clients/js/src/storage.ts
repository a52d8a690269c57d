/**
 * Where a bearer-mode client keeps its tokens. The shape is the Web Storage one, sync or async,
 * so `localStorage`, React Native's secure stores and anything else fit behind a few lines.
 */
export interface TokenStorage {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
  /**
   * True when other tabs or processes read and write the same items (localStorage). The client
   * then re-reads the tokens before every call and refreshes under a lock shared by every tab.
   */
  readonly shared?: boolean;
}

/** The default: tokens live in this JavaScript context only and go when it goes. */
export function memoryStorage(): TokenStorage {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/** Minimal Web Storage: what `window.localStorage` offers. */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Browsers that opt in: the tokens survive reloads and are shared by every tab of the origin
 * (and readable by any script on it: prefer cookie mode where an injected script is a worry).
 */
export function webStorage(
  storage: WebStorageLike = (globalThis as { localStorage?: WebStorageLike }).localStorage!,
): TokenStorage {
  if (!storage) throw new TypeError("webStorage: no localStorage here; pass one");
  return {
    getItem: (key) => storage.getItem(key),
    setItem: (key, value) => storage.setItem(key, value),
    removeItem: (key) => storage.removeItem(key),
    shared: true,
  };
}

/** The async key-value API of expo-secure-store (react-native-keychain & co. adapt the same way). */
export interface SecureStoreLike {
  getItemAsync(key: string): Promise<string | null>;
  setItemAsync(key: string, value: string): Promise<void>;
  deleteItemAsync(key: string): Promise<void>;
}

/**
 * React Native: an adapter over the platform's secure storage (Keychain, Keystore), e.g.
 * `secureStoreStorage(SecureStore)` with `import * as SecureStore from "expo-secure-store"`.
 * One app process reads it, so the client caches the tokens between calls.
 */
export function secureStoreStorage(store: SecureStoreLike): TokenStorage {
  return {
    getItem: (key) => store.getItemAsync(key),
    setItem: (key, value) => store.setItemAsync(key, value),
    removeItem: (key) => store.deleteItemAsync(key),
  };
}
