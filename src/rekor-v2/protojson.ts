import type { FieldReader, Json } from '../bundle/protojson.js';

const camel = (name: string): string => name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/**
 * A protojson message read strictly, as rekor-tiles' gateway does (protojson.Unmarshal without
 * DiscardUnknown): each field by its lowerCamelCase JSON name or its proto name, anything else
 * refused, and null meaning absent. The result is keyed by the JSON names.
 */
export function strictObject(r: FieldReader, v: unknown, fields: readonly string[]): Json {
  const o = r.object(v);
  const out: Json = {};
  for (const [k, value] of Object.entries(o)) {
    const name = camel(k);
    if (!fields.includes(name)) r.fail(`unknown field ${JSON.stringify(k.slice(0, 64))}`);
    if (name in out) r.fail(`field ${name} is given twice`);
    if (value !== null) out[name] = value;
  }
  return out;
}

/**
 * Refuses a JSON text (already known to parse) naming one key twice in an object: JSON.parse keeps
 * the last, Go's protojson (rekor-tiles) refuses the request, so sigil would log what Rekor rejects.
 */
export function assertUniqueKeys(r: FieldReader, text: string): void {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const keys = stack[stack.length - 1];
      if (expectKey && keys) {
        const raw = text.slice(i, j + 1);
        const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (keys.has(key)) r.fail(`the key ${JSON.stringify(key.slice(0, 64))} is given twice in one object`);
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push(null);
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = stack[stack.length - 1] !== null && stack.length > 0;
    }
  }
}
