/**
 * Structured cloning (worker messages) turns Buffers into plain Uint8Arrays; this walks plain
 * arrays and objects and turns them back into Buffers (without copying).
 */
export function reviveBuffers<T>(value: T): T {
  return revive(value) as T;
}

function revive(v: unknown): unknown {
  if (v instanceof Uint8Array)
    return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = revive(v[i]);
    return v;
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = revive(o[k]);
    return o;
  }
  return v;
}
