import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { isSigilError } from '../../src/errors/index.js';

/** Runs per property: the CI count, ×10 under `SIGIL_SOAK=1`, or ×`SIGIL_FUZZ_FACTOR`. */
export const RUNS = (ci: number): number => {
  const factor = process.env.SIGIL_FUZZ_FACTOR;
  if (factor !== undefined && /^[0-9]+$/.test(factor)) return ci * Number(factor);
  return process.env.SIGIL_SOAK === '1' ? ci * 10 : ci;
};

/** Each call must settle within this time: a parser that hangs on some input is a failure. */
export const CALL_TIMEOUT_MS = 2_000;

/** Runs `fn`; anything it throws must be a SigilError, and it must settle within CALL_TIMEOUT_MS. */
export async function onlySigilErrors(fn: () => unknown, what = 'parser'): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => fn())(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what} did not settle within ${CALL_TIMEOUT_MS} ms`)),
          CALL_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (e) {
    if (!isSigilError(e)) throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Mutations of a valid text: a few characters replaced, inserted or removed at random positions. */
export function mutatedText(text: string): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(Math.max(0, text.length - 1)), fc.nat(4), fc.string({ maxLength: 4 }));
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let s = text;
    for (const [pos, del, ins] of edits) s = s.slice(0, pos) + ins + s.slice(pos + del);
    return s;
  });
}

/** Mutations of valid bytes: bytes flipped, cut or appended. */
export function mutatedBytes(bytes: Uint8Array): fc.Arbitrary<Buffer> {
  const b = Buffer.from(bytes);
  return fc.oneof(
    fc
      .array(fc.tuple(fc.nat(b.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })
      .map((flips) => {
        const c = Buffer.from(b);
        for (const [i, x] of flips) c[i] = c[i]! ^ x;
        return c;
      }),
    fc.nat(b.length - 1).map((n) => b.subarray(0, n)),
    fc.uint8Array({ minLength: 1, maxLength: 16 }).map((tail) => Buffer.concat([b, tail])),
  );
}

/** Replaces one value somewhere inside a JSON value with an arbitrary JSON value. */
export function mutatedJson(value: unknown): fc.Arbitrary<unknown> {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]): void => {
    paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(value, []);
  const replacement = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom(null, '', 0, -1, 1e308, '!!!', 'AAAA', [], {}, 'a'.repeat(70_000)),
  );
  return fc.tuple(fc.constantFrom(...paths), replacement, fc.boolean()).map(([path, rep, remove]) => {
    if (path.length === 0) return rep;
    const copy = structuredClone(value) as Record<string | number, unknown>;
    let node = copy;
    for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
    const last = path[path.length - 1]!;
    if (remove && !Array.isArray(node)) delete node[last];
    else node[last] = rep;
    return copy;
  });
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1];

/** A self-signed certificate and a CSR (PEM), made with @peculiar/x509. */
export async function certificateAndCsr(): Promise<{
  certPem: string;
  certDer: Buffer;
  csrPem: string;
  spkiPem: string;
}> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=sigil fuzz',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3_600_000),
      keys,
      signingAlgorithm: ALG,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'email', value: 'fuzz@example.com' }])],
    },
    crypto,
  );
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: 'CN=fuzz', keys, signingAlgorithm: ALG },
    crypto,
  );
  return {
    certPem: cert.toString('pem'),
    certDer: Buffer.from(cert.rawData),
    csrPem: csr.toString('pem'),
    spkiPem: cert.publicKey.toString('pem'),
  };
}
