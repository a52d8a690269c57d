/** Why a session is over for this client. */
export type SignOutReason =
  /** The app called logout, logoutAll or revokeSession on its own session. */
  | "logout"
  /** Rotor refused the session's refresh token: expired, revoked (logout elsewhere, a password
   * change, an operator), or the tokens vanished from shared storage (another tab signed out). */
  | "session_ended"
  /** The refresh token had been used already: a copy of it was used somewhere else. Rotor ended
   * the session; treat it as a possible theft (tell the user, ask them to sign in again). */
  | "token_reused";

export interface RotorEvents {
  signedIn: { sessionId: string };
  refreshed: { sessionId: string | null };
  signedOut: { reason: SignOutReason };
}

export type Listener<E extends keyof RotorEvents> = (event: RotorEvents[E]) => void;

/** Subscribers per event; a listener that throws never breaks the client's own flow. */
export class Emitter {
  private readonly listeners: { [E in keyof RotorEvents]: Set<Listener<E>> } = {
    signedIn: new Set(),
    refreshed: new Set(),
    signedOut: new Set(),
  };

  on<E extends keyof RotorEvents>(event: E, listener: Listener<E>): () => void {
    this.listeners[event].add(listener);
    return () => void this.listeners[event].delete(listener);
  }

  emit<E extends keyof RotorEvents>(event: E, payload: RotorEvents[E]): void {
    for (const listener of this.listeners[event]) {
      try {
        listener(payload);
      } catch (error) {
        setTimeout(() => {
          throw error; // reported as uncaught, after the client finished what it was doing
        });
      }
    }
  }
}
