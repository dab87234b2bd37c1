import { SigilError } from '../../errors/index.js';

/** Typed readers for policy documents; every complaint names the field path. */
export type Doc = Record<string, unknown>;

export function invalid(path: string, message: string): SigilError {
  return new SigilError('INVALID_POLICY', `${path}: ${message}`);
}

export function isObject(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function objectAt(v: unknown, path: string): Doc {
  if (!isObject(v)) throw invalid(path, 'must be an object');
  return v;
}

export function optObject(parent: Doc, key: string, path: string): Doc | undefined {
  const v = parent[key];
  if (v === undefined || v === null) return undefined;
  return objectAt(v, `${path}.${key}`);
}

export function optString(parent: Doc, key: string, path: string, maxLength = 64 * 1024): string | undefined {
  const v = parent[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`${path}.${key}`, 'must be a string');
  if (v.length > maxLength) throw invalid(`${path}.${key}`, `is longer than ${maxLength} characters`);
  return v;
}

export function optBool(parent: Doc, key: string, path: string): boolean | undefined {
  const v = parent[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(`${path}.${key}`, 'must be true or false');
  return v;
}

export function optInt(parent: Doc, key: string, path: string): number | undefined {
  const v = parent[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`${path}.${key}`, 'must be an integer');
  return v;
}

export function optArray(parent: Doc, key: string, path: string, maxItems: number): unknown[] | undefined {
  const v = parent[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalid(`${path}.${key}`, 'must be a list');
  if (v.length > maxItems) throw invalid(`${path}.${key}`, `has more than ${maxItems} items`);
  return v;
}

export function optStringList(
  parent: Doc,
  key: string,
  path: string,
  maxItems: number,
): string[] | undefined {
  const list = optArray(parent, key, path, maxItems);
  if (list === undefined) return undefined;
  return list.map((item, i) => {
    if (typeof item !== 'string') throw invalid(`${path}.${key}[${i}]`, 'must be a string');
    return item;
  });
}

export function optStringMap(parent: Doc, key: string, path: string): Record<string, string> | undefined {
  const o = optObject(parent, key, path);
  if (!o) return undefined;
  const out: Record<string, string> = {};
  const entries = Object.entries(o);
  if (entries.length > 64) throw invalid(`${path}.${key}`, 'has more than 64 entries');
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw invalid(`${path}.${key}.${k}`, 'must be a string');
    out[k] = v;
  }
  return out;
}
