import { parseReference, type ImageReference } from '../../oci/index.js';
import type { Question } from './library.js';

const MAX_REMEMBERED = 10_000;
const parsed = new Map<string, ImageReference | Error>();

/**
 * parseReference, remembered per image string (references are immutable values and a pod's
 * images repeat from review to review); bounded, cleared when full. Throws what it threw.
 */
export function cachedReference(image: string): ImageReference {
  let r = parsed.get(image);
  if (r === undefined) {
    try {
      r = parseReference(image);
    } catch (e) {
      r = e instanceof Error ? e : new Error(String(e));
    }
    if (parsed.size >= MAX_REMEMBERED) parsed.clear();
    parsed.set(image, r);
  }
  if (r instanceof Error) throw r;
  return r;
}

/** A question's identity within one evaluation (names cannot hold NUL). */
export function questionKey(q: Question): string {
  switch (q.kind) {
    case 'signatures':
      return `s\0${q.image}\0${q.attestors.join('\0')}`;
    case 'attestations':
      return `a\0${q.image}\0${q.attestation}\0${q.attestors.join('\0')}`;
    default:
      return `p\0${q.image}\0${q.attestation}`;
  }
}
