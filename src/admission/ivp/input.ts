import { isCelList, isCelMap, type CelInput, type CelValue } from '@bufbuild/cel';
import { SigilError } from '../../errors/index.js';

/** Objects nested deeper than this are an error when CEL reaches that deep. */
const MAX_DEPTH = 64;

function scalar(v: unknown, depth: number): CelInput {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : v;
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return v as CelInput;
  if (depth > MAX_DEPTH) throw new SigilError('INVALID_INPUT', `object is nested deeper than ${MAX_DEPTH}`);
  if (Array.isArray(v)) return v.map((x) => scalar(x, depth + 1));
  if (typeof v === 'object') return new JsonMap(v as Record<string, unknown>, depth);
  throw new SigilError('INVALID_INPUT', `unsupported value of type ${typeof v}`);
}

/**
 * A JSON object as a CEL map, converted as CEL reads it: only own keys are visible (no prototype
 * property is reachable, and no `$typeName` key can pass for a protobuf message), integral numbers
 * are int and others double, as Kubernetes' CEL sees unstructured objects. A review's expressions
 * usually read a few fields of a large object; nothing else is converted.
 */
class JsonMap extends Map<string, CelInput> {
  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly depth: number,
    private readonly replaced: Record<string, CelInput> = {},
  ) {
    super();
  }
  override get(key: string): CelInput | undefined {
    if (typeof key !== 'string' || !Object.prototype.hasOwnProperty.call(this.raw, key)) return undefined;
    if (Object.prototype.hasOwnProperty.call(this.replaced, key)) return this.replaced[key];
    return scalar(this.raw[key], this.depth + 1);
  }
  override has(key: string): boolean {
    return typeof key === 'string' && Object.prototype.hasOwnProperty.call(this.raw, key);
  }
  override get size(): number {
    return Object.keys(this.raw).length;
  }
  override keys(): MapIterator<string> {
    return Object.keys(this.raw)[Symbol.iterator]();
  }
  override *values(): MapIterator<CelInput> {
    for (const k of Object.keys(this.raw)) yield this.get(k)!;
  }
  override *entries(): MapIterator<[string, CelInput]> {
    for (const k of Object.keys(this.raw)) yield [k, this.get(k)!];
  }
  override [Symbol.iterator](): MapIterator<[string, CelInput]> {
    return this.entries();
  }
  override forEach(
    cb: (value: CelInput, key: string, map: Map<string, CelInput>) => void,
    thisArg?: unknown,
  ): void {
    for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this);
  }
}

/**
 * JSON → CEL input. `replaced` substitutes already-converted values for top-level keys (the
 * AdmissionRequest carries the object again).
 */
export function toCel(value: unknown, replaced: Record<string, CelInput> = {}): CelInput {
  if (typeof value === 'object' && value !== null && !Array.isArray(value))
    return new JsonMap(value as Record<string, unknown>, 0, replaced);
  return scalar(value, 0);
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
