// The hand-written TimeStampReq reader (src/tsa/der-request.ts) against asn1-tsp, differentially:
// on requests in every shape clients send it reads what the library reads; on mutated, truncated
// and reshaped bytes it either steps aside (undefined: the library decides) or reads exactly
// what the library reads, and never accepts what the library refuses.
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { MessageImprint, TimeStampReq } from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier, Extension, Extensions } from '@peculiar/asn1-x509';
import { requireBinary } from '../helpers/env.js';
import { arrayBufferOf, HASH_OIDS } from '../../src/tsa/asn1.js';
import { parseCanonicalRequest } from '../../src/tsa/der-request.js';
import { parseDerRequestWithLibrary, type TimestampRequest } from '../../src/tsa/request.js';

/** Everything the TSA reads from a request, in comparable form. */
function view(r: TimestampRequest) {
  const alg = r.imprint.hashAlgorithm;
  return {
    algorithm: alg.algorithm,
    parameters:
      alg.parameters === undefined
        ? 'absent'
        : alg.parameters === null
          ? 'NULL'
          : Buffer.from(alg.parameters).toString('hex'),
    digest: Buffer.from(r.imprint.hashedMessage.buffer).toString('hex'),
    nonce: r.nonce ? Buffer.from(r.nonce).toString('hex') : undefined,
    certReq: r.certReq,
    policy: r.policy,
    extensionCount: r.extensionCount,
  };
}

function library(body: Buffer): ReturnType<typeof view> | 'refused' {
  try {
    return view(parseDerRequestWithLibrary(body));
  } catch {
    return 'refused';
  }
}

const arbRequest = fc
  .record({
    hash: fc.constantFrom<keyof typeof HASH_OIDS | 'sha1' | 'md5'>(
      'sha256',
      'sha384',
      'sha512',
      'sha1',
      'md5',
    ),
    params: fc.constantFrom('absent', 'null', 'other'),
    digest: fc.uint8Array({ minLength: 0, maxLength: 80 }),
    nonce: fc.option(fc.uint8Array({ minLength: 1, maxLength: 40 }), { nil: undefined }),
    certReq: fc.boolean(),
    policy: fc.option(
      fc.oneof(
        fc.constantFrom('1.3.6.1.4.1.57264.2', '2.999', '0.39', '1.0', '1.39', '2.0.1', '2.40'),
        fc
          .array(fc.integer({ min: 0, max: 2 ** 32 + 5 }), { minLength: 1, maxLength: 12 })
          .map((a) => `2.${a.join('.')}`),
      ),
      { nil: undefined },
    ),
    extension: fc.boolean(),
  })
  .map((r) => {
    const oid = { ...HASH_OIDS, sha1: '1.3.14.3.2.26', md5: '1.2.840.113549.2.5' }[r.hash];
    const params =
      r.params === 'null'
        ? { parameters: null }
        : r.params === 'other'
          ? { parameters: arrayBufferOf(Buffer.from('0400', 'hex')) }
          : {};
    const req = new TimeStampReq({
      version: 1,
      messageImprint: new MessageImprint({
        hashAlgorithm: new AlgorithmIdentifier({ algorithm: oid, ...params }),
        hashedMessage: new OctetString(arrayBufferOf(r.digest)),
      }),
      certReq: r.certReq,
      ...(r.nonce ? { nonce: arrayBufferOf(r.nonce) } : {}),
      ...(r.policy ? { reqPolicy: r.policy } : {}),
      ...(r.extension
        ? { extensions: new Extensions([new Extension({ extnID: '1.2.3', extnValue: new OctetString(2) })]) }
        : {}),
    });
    return Buffer.from(AsnConvert.serialize(req));
  });

test('well-formed requests of every shape: the reader reads what asn1-tsp reads, or leaves it to the library', () => {
  let read = 0;
  fc.assert(
    fc.property(arbRequest, (body) => {
      const fast = parseCanonicalRequest(body);
      if (fast === undefined) return;
      read++;
      assert.deepEqual(view(fast), library(body));
    }),
    { numRuns: 1500 },
  );
  assert.ok(read > 150, `the reader took ${read} of 1500`);
});

test('mutated, truncated and extended bytes: whatever the reader accepts, the library reads the same', () => {
  const arbMutated = fc.tuple(
    arbRequest,
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    fc.nat(),
    fc.constantFrom('flip', 'truncate', 'append', 'length'),
  );
  let accepted = 0;
  fc.assert(
    fc.property(arbMutated, ([body, edits, cut, how]) => {
      let b = Buffer.from(body);
      if (how === 'flip') for (const [i, v] of edits) b[i % b.length] = v;
      if (how === 'truncate') b = b.subarray(0, cut % b.length);
      if (how === 'append') b = Buffer.concat([b, Buffer.from(edits.map(([, v]) => v))]);
      if (how === 'length') b[1 + (cut % 3)] = edits[0]![1];
      const fast = parseCanonicalRequest(b);
      if (fast === undefined) return;
      accepted++;
      assert.deepEqual(view(fast), library(b), b.toString('hex'));
    }),
    { numRuns: 4000 },
  );
  assert.ok(accepted > 15, `some mutants were read (${accepted})`);
});

test('what OpenSSL sends (sha256/384/512, nonce, -cert, -tspolicy, -no_nonce) is read by the reader itself', (t) => {
  if (!requireBinary(t, 'openssl')) return;
  const dir = mkdtempSync(join(tmpdir(), 'sigil-tsq-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'data'), 'x');
  for (const args of [
    ['-sha256', '-cert'],
    ['-sha384'],
    ['-sha512', '-cert', '-tspolicy', '1.3.6.1.4.1.57264.2'],
    ['-sha256', '-no_nonce'],
  ]) {
    const out = join(dir, 'q.tsq');
    const r = spawnSync('openssl', ['ts', '-query', '-data', join(dir, 'data'), ...args, '-out', out]);
    assert.equal(r.status, 0, r.stderr.toString());
    const body = readFileSync(out);
    const fast = parseCanonicalRequest(body);
    assert.ok(fast, `read ${args.join(' ')}`);
    assert.deepEqual(view(fast), library(body));
  }
});
