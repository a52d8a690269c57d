/** A non-2xx answer of Rotor, from its error envelope `{"error": {code, message, details}}`. */
export class RotorError extends Error {
  override readonly name = "RotorError";

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  /** Read the envelope of `response` (or make do with its status when there is none). */
  static async from(response: Response): Promise<RotorError> {
    return RotorError.of(response.status, await errorOf(response));
  }

  static of(status: number, error: Envelope | null): RotorError {
    return new RotorError(
      status,
      error?.code ?? `http_${status}`,
      error?.message ?? `HTTP ${status}`,
      error?.details,
    );
  }
}

export interface Envelope {
  code: string;
  message?: string;
  details?: Record<string, unknown>;
}

/** The `error` of a JSON envelope, without consuming the caller's body; null for anything else. */
export async function errorOf(response: Response): Promise<Envelope | null> {
  try {
    return envelopeOf(await response.clone().json());
  } catch {
    return null; // not JSON: a proxy's page, an empty body
  }
}

/** The `error` of a parsed body, when it is the envelope. */
export function envelopeOf(body: unknown): Envelope | null {
  const error = (body as { error?: unknown } | null)?.error as Partial<Envelope> | undefined;
  return typeof error?.code === "string" ? (error as Envelope) : null;
}
