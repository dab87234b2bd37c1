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
