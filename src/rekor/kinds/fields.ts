import { SigilError } from '../../errors/index.js';

/** Field readers for proposed entries: wrong type or size → INVALID_ENTRY naming the field. */
export function objectField(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new SigilError('INVALID_ENTRY', `${what} must be an object`);
  }
  return v as Record<string, unknown>;
}

export function stringField(v: unknown, what: string, maxLength: number): string {
  if (typeof v !== 'string' || v.length === 0)
    throw new SigilError('INVALID_ENTRY', `${what} must be a non-empty string`);
  if (v.length > maxLength)
    throw new SigilError('INVALID_ENTRY', `${what} is longer than ${maxLength} characters`);
  return v;
}

export function arrayField(v: unknown, what: string, min: number, max: number): unknown[] {
  if (!Array.isArray(v)) throw new SigilError('INVALID_ENTRY', `${what} must be an array`);
  if (v.length < min || v.length > max) {
    throw new SigilError('INVALID_ENTRY', `${what} must have ${min}–${max} items`);
  }
  return v;
}
