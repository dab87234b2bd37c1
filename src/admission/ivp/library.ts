import {
  celFunc,
  celMethod,
  CelScalar,
  isCelMap,
  listType,
  mapType,
  type CelFunc,
  type CelInput,
  type CelValue,
} from '@bufbuild/cel';
import { cachedReference } from './refs.js';

/**
 * Kyverno's image library for ImageValidatingPolicy CEL (pkg/cel/libs/imageverify, and the
 * `image()` parser): verifyImageSignatures(string, list) → int, verifyAttestationSignatures(string,
 * string, list) → int, extractPayload(string, string) → dyn, image(string) with registry(),
 * repository(), identifier(), tag(), digest(), containsDigest().
 *
 * CEL runs synchronously, verification does not. The functions answer from the evaluation's
 * `Calls`; a question not yet answered is recorded as pending and the call fails, and the
 * evaluator verifies what is pending and evaluates again (see evaluate.ts). An expression thus
 * asks for exactly the verifications it reaches, in Kyverno's order.
 */

/** One question a validation asked (attestor / attestation names as the policy declares them). */
export type Question =
  | { kind: 'signatures'; image: string; attestors: string[] }
  | { kind: 'attestations'; image: string; attestation: string; attestors: string[] }
  | { kind: 'payload'; image: string; attestation: string };

export type Answer = { ok: true; value: unknown } | { ok: false; error: string };

export interface Calls {
  answer(q: Question): Answer | undefined;
  ask(q: Question): void;
}

export class PendingVerification extends Error {
  constructor() {
    super('verification pending');
  }
}
// One instance: thrown on every first ask, so no stack is captured each time.
const PENDING = new PendingVerification();

let active: Calls | undefined;

/** Runs `fn` (a synchronous CEL evaluation) with `calls` answering the library's questions. */
export function withCalls<T>(calls: Calls, fn: () => T): T {
  const previous = active;
  active = calls;
  try {
    return fn();
  } finally {
    active = previous;
  }
}

/** An attestor value as CEL sees it (`attestors.<name>`): a map carrying its name. */
function attestorNames(list: readonly CelValue[]): string[] {
  return list.map((a) => {
    const name = isCelMap(a) ? a.get('name') : undefined;
    if (typeof name !== 'string') throw new Error('attestor list must hold attestors from `attestors`');
    return name;
  });
}

function ask(q: Question): unknown {
  if (!active) throw new Error('image verification is not available here');
  const a = active.answer(q);
  if (!a) {
    active.ask(q);
    throw PENDING;
  }
  if (!a.ok) throw new Error(a.error);
  return a.value;
}

const IMAGE = mapType(CelScalar.STRING, CelScalar.STRING);

function imageParts(s: string): Map<string, string> {
  const ref = cachedReference(s);
  const out = new Map<string, string>([
    ['registry', ref.registry],
    ['repository', ref.repository],
    ['tag', ref.tag ?? ''],
    ['digest', ref.digest ?? ''],
  ]);
  out.set('identifier', ref.digest ?? ref.tag ?? 'latest');
  return out;
}

function part(name: string): CelFunc {
  return celMethod(name, IMAGE, [], CelScalar.STRING, function () {
    const v = this.get(name);
    return typeof v === 'string' ? v : '';
  });
}

export const KYVERNO_IMAGE_FUNCS: readonly CelFunc[] = [
  celFunc(
    'verifyImageSignatures',
    [CelScalar.STRING, listType(CelScalar.DYN)],
    CelScalar.INT,
    (image, list) =>
      BigInt(ask({ kind: 'signatures', image, attestors: attestorNames([...list]) }) as number),
  ),
  celFunc(
    'verifyAttestationSignatures',
    [CelScalar.STRING, CelScalar.STRING, listType(CelScalar.DYN)],
    CelScalar.INT,
    (image, attestation, list) =>
      BigInt(
        ask({ kind: 'attestations', image, attestation, attestors: attestorNames([...list]) }) as number,
      ),
  ),
  celFunc(
    'extractPayload',
    [CelScalar.STRING, CelScalar.STRING],
    CelScalar.DYN,
    (image, attestation) => ask({ kind: 'payload', image, attestation }) as CelInput,
  ),
  celFunc('image', [CelScalar.STRING], IMAGE, (s) => imageParts(s)),
  // Kyverno 1.17's name for the same parser.
  celFunc('parseImageReference', [CelScalar.STRING], IMAGE, (s) => imageParts(s)),
  celFunc('isImage', [CelScalar.STRING], CelScalar.BOOL, (s) => {
    try {
      cachedReference(s);
      return true;
    } catch {
      return false;
    }
  }),
  part('registry'),
  part('repository'),
  part('identifier'),
  part('tag'),
  part('digest'),
  celMethod('containsDigest', IMAGE, [], CelScalar.BOOL, function () {
    return this.get('digest') !== '';
  }),
];
