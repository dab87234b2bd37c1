import { isCelList, isCelMap, type CelInput, type CelValue } from '@bufbuild/cel';
import { SigilError } from '../../errors/index.js';

/** Bounds on what one admission object may be when handed to CEL (it came through a bounded HTTP body). */
const MAX_DEPTH = 64;
const MAX_NODES = 200_000;

/**
 * JSON → CEL input as Kubernetes' CEL sees unstructured objects: objects become maps (so no
 * prototype property is ever reachable), integral numbers become int, others double.
 */
export function toCel(value: unknown): CelInput {
  let nodes = 0;
  const walk = (v: unknown, depth: number): CelInput => {
    if (++nodes > MAX_NODES)
      throw new SigilError('INVALID_INPUT', `object has more than ${MAX_NODES} values`);
    if (depth > MAX_DEPTH) throw new SigilError('INVALID_INPUT', `object is nested deeper than ${MAX_DEPTH}`);
    if (v === null || v === undefined) return null;
    if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : v;
    if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return v as CelInput;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (typeof v === 'object') {
      const m = new Map<string, CelInput>();
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) m.set(k, walk(x, depth + 1));
      return m;
    }
    throw new SigilError('INVALID_INPUT', `unsupported value of type ${typeof v}`);
  };
  return walk(value, 0);
}

/** CEL value → plain JSON-ish JS (lists, maps, bigint → number when safe). */
export function fromCel(v: CelValue | unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (isCelList(v)) return [...v].map(fromCel);
  if (isCelMap(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v.entries()) o[String(k)] = fromCel(x);
    return o;
  }
  return v;
}
