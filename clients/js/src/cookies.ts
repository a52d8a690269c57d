/** The script-readable CSRF cookies of cookie mode (the token cookies are HttpOnly). */
export const ACCESS_CSRF_COOKIE = "csrf_access_token";
export const REFRESH_CSRF_COOKIE = "csrf_refresh_token";

/** How a cookie-mode client reads and drops the CSRF cookies; `document.cookie` in browsers. */
export interface CookieAccess {
  read(name: string): string | null;
  forget(name: string): void;
}

/** `document.cookie`: the browser's own jar. */
export function documentCookies(): CookieAccess {
  const doc = (globalThis as { document?: { cookie: string } }).document;
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
      const secure = (globalThis as { location?: Location }).location?.protocol === "https:";
      doc.cookie = `${name}=; Max-Age=0; Path=/; SameSite=Strict${secure ? "; Secure" : ""}`;
    },
  };
}
