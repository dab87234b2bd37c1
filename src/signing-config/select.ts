import { randomInt } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import type { Service, ServiceConfiguration } from './config.js';

/** API versions sigil's clients speak, per service kind (Rekor v2: src/rekor-v2). */
export const SUPPORTED_API_VERSIONS = { ca: [1], oidc: [1], rekor: [1, 2], tsa: [1] } as const;

/** Inclusive at both ends (protobuf-specs TimeRange; conformance *-validity-end-inclusive). */
export function validAt(s: Service, t: Date): boolean {
  if (s.validFor.start && t < s.validFor.start) return false;
  if (s.validFor.end && t > s.validFor.end) return false;
  return true;
}

/** Newest validity start first; a service without a start counts as the oldest. */
function newestFirst(services: readonly Service[]): Service[] {
  return [...services].sort(
    (a, b) => (b.validFor.start?.getTime() ?? 0) - (a.validFor.start?.getTime() ?? 0),
  );
}

const highestFirst = (versions: readonly number[]): number[] => [...versions].sort((a, b) => b - a);

/**
 * One service (CA, OIDC): the highest supported majorApiVersion, valid at `now`, newest start
 * (sigstore-go root.SelectService).
 */
export function selectService(
  services: readonly Service[],
  supported: readonly number[],
  now: Date,
  what: string,
): Service {
  for (const version of highestFirst(supported)) {
    const hit = newestFirst(services).find((s) => s.majorApiVersion === version && validAt(s, now));
    if (hit) return hit;
  }
  throw new SigilError(
    'INVALID_INPUT',
    `signing config lists no ${what} service valid now with API version ${supported.join(' or ')}`,
  );
}

/**
 * Several services (Rekor logs, TSAs), as sigstore-go root.SelectServices: only from the highest
 * supported API version that has any valid service, at most one per operator (the newest), then
 * ALL of them, ANY one at random, or EXACT `count` at random (fewer qualifying fails).
 */
export function selectServices(
  services: readonly Service[],
  config: ServiceConfiguration,
  supported: readonly number[],
  now: Date,
  what: string,
  pick: (n: number) => number = randomInt,
): Service[] {
  let chosen: Service[] = [];
  for (const version of highestFirst(supported)) {
    const operators = new Set<string>();
    for (const s of newestFirst(services)) {
      if (s.majorApiVersion !== version || !validAt(s, now) || operators.has(s.operator)) continue;
      operators.add(s.operator);
      chosen.push(s);
    }
    if (chosen.length > 0) break;
  }
  if (chosen.length === 0)
    throw new SigilError(
      'INVALID_INPUT',
      `signing config lists no ${what} service valid now with API version ${supported.join(' or ')}`,
    );
  if (config.selector === 'ALL') return chosen;
  const count = config.selector === 'ANY' ? 1 : (config.count ?? 0);
  if (count < 1) throw new SigilError('INVALID_INPUT', `${what} selector EXACT needs a count above 0`);
  if (count > chosen.length)
    throw new SigilError(
      'INVALID_INPUT',
      `${what} selector EXACT asks for ${count} services but only ${chosen.length} qualify`,
    );
  const out: Service[] = [];
  chosen = [...chosen];
  while (out.length < count) out.push(...chosen.splice(pick(chosen.length), 1));
  return out;
}
