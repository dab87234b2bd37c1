/**
 * The one error type of sigil. Every failure that crosses a module boundary is a
 * SigilError with a code from the closed set below; HTTP status codes and CLI exit
 * behaviour are derived from the code in one place (httpStatusFor).
 */
export const ERROR_CODES = {
  // bad input from the outside (400)
  INVALID_INPUT: 400,
  INVALID_JSON: 400,
  INVALID_ENTRY: 400,
  INVALID_SIGNATURE: 400,
  INVALID_KEY: 400,
  WEAK_KEY: 400,
  INVALID_CERTIFICATE: 400,
  INVALID_CSR: 400,
  INVALID_POLICY: 400,
  INVALID_REFERENCE: 400,
  INVALID_BUNDLE: 400,
  INVALID_CHECKPOINT: 400,
  INVALID_PROOF: 400,
  // identity (401)
  UNAUTHENTICATED: 401,
  INVALID_TOKEN: 401,
  UNKNOWN_ISSUER: 401,
  // refused (403)
  FORBIDDEN: 403,
  // absent (404)
  NOT_FOUND: 404,
  // conflict (409)
  DUPLICATE_ENTRY: 409,
  LOCKED: 409,
  // size limits (413)
  TOO_LARGE: 413,
  // wrong content type (415)
  UNSUPPORTED_MEDIA_TYPE: 415,
  // overload (429/503)
  RATE_LIMITED: 429,
  PUSHBACK: 503,
  UNAVAILABLE: 503,
  STORAGE_FAILURE: 503,
  TIMEOUT: 504,
  // upstream dependencies (502)
  UPSTREAM_ERROR: 502,
  REGISTRY_ERROR: 502,
  // verification outcomes (reported, not HTTP errors of ours)
  VERIFICATION_FAILED: 422,
  SIGNATURE_MISMATCH: 422,
  CERTIFICATE_CHAIN_FAILED: 422,
  CERTIFICATE_EXPIRED: 422,
  TLOG_FAILED: 422,
  SCT_FAILED: 422,
  IDENTITY_MISMATCH: 422,
  DIGEST_MISMATCH: 422,
  NO_SIGNATURES: 422,
  TLOG_ENTRY_MISMATCH: 422,
  INCLUSION_PROOF_FAILED: 422,
  CHECKPOINT_INVALID: 422,
  TIMESTAMP_INVALID: 422,
  TIMESTAMP_UNTRUSTED: 422,
  TIMESTAMP_OUTSIDE_VALIDITY: 422,
  THRESHOLD_NOT_MET: 422,
  TRUST_ROOT_INVALID: 422,
  POLICY_REQUIRED: 400,
  // ours (500): never shown with a stack
  INTERNAL: 500,
  NOT_IMPLEMENTED: 501,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SigilError extends Error {
  readonly code: ErrorCode;
  /** Extra response headers (e.g. Location on a duplicate, Retry-After on pushback). */
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SigilError';
    this.code = code;
    this.headers = options?.headers;
  }
}

export function httpStatusFor(code: ErrorCode): number {
  return ERROR_CODES[code];
}

export function isSigilError(e: unknown, code?: ErrorCode): e is SigilError {
  return e instanceof SigilError && (code === undefined || e.code === code);
}

/** Wraps anything thrown into a SigilError, keeping SigilErrors as they are. */
export function toSigilError(e: unknown, fallback: ErrorCode = 'INTERNAL', message?: string): SigilError {
  if (e instanceof SigilError) return e;
  const text = message ?? (e instanceof Error ? e.message : String(e));
  return new SigilError(fallback, text, { cause: e });
}
