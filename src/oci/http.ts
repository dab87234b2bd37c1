import type { RegistryResponse } from './transport.js';

/**
 * Reads a response body into memory, refusing (TOO_LARGE) as soon as more than `max` bytes
 * arrive, and before reading when Content-Length already says so.
 */
export function readBounded(res: RegistryResponse, max: number, what: string): Promise<Buffer> {
  return res.read(max, what);
}

/** Discards a body we do not need, keeping the connection reusable when the body is small. */
export function discard(res: RegistryResponse): Promise<void> {
  return res.discard();
}

/** The `message`s of a distribution-spec error body `{errors:[{code,message}]}`, when there is one. */
export async function registryErrorText(res: RegistryResponse): Promise<string> {
  let body: Buffer;
  try {
    body = await readBounded(res, 64 * 1024, 'error body');
  } catch {
    return '';
  }
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
    if (Array.isArray(doc.errors) && doc.errors.length > 0) {
      return doc.errors
        .slice(0, 5)
        .map((e) => [e.code, e.message].filter((x) => typeof x === 'string' && x.length > 0).join(': '))
        .join('; ')
        .slice(0, 500);
    }
  } catch {
    // not JSON: fall through to the plain text
  }
  return body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
}
