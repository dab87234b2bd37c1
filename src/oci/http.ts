import { SigilError } from '../errors/index.js';

/**
 * Reads a response body into memory, refusing (TOO_LARGE) as soon as more than `max` bytes
 * arrive, and before reading when Content-Length already says so.
 */
export async function readBounded(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = res.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new SigilError('TOO_LARGE', `${what} is ${declared} bytes, more than the limit of ${max}`);
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch (e) {
      const err = e as Error;
      const why = err.name === 'TimeoutError' || err.name === 'AbortError' ? 'timed out' : err.message;
      throw new SigilError('REGISTRY_ERROR', `reading ${what} failed: ${why}`, { cause: e });
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new SigilError('TOO_LARGE', `${what} is larger than the limit of ${max} bytes`);
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return Buffer.concat(chunks, total);
}

/** Drains and discards a body we do not need (keeps the connection reusable), bounded. */
export async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined);
}

/** The `message`s of a distribution-spec error body `{errors:[{code,message}]}`, when there is one. */
export async function registryErrorText(res: Response): Promise<string> {
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
