import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SignedData } from '@peculiar/asn1-cms';
import { PKIStatus, TimeStampResp, TSTInfo } from '@peculiar/asn1-tsp';
import { SerialAllocator, SERIAL_BLOCK } from '../../src/tsa/serial.js';
import { postTimestamp, withTsa } from './helpers.js';

function tstInfo(der: Buffer): TSTInfo {
  const resp = AsnConvert.parse(der, TimeStampResp);
  assert.equal(resp.status.status, PKIStatus.granted);
  const signed = AsnConvert.parse(resp.timeStampToken!.content, SignedData);
  return AsnConvert.parse(signed.encapContentInfo.eContent!.single!.buffer, TSTInfo);
}

const jsonBody = (o: unknown): string => JSON.stringify(o);

test('the certchain leaf has exactly one EKU, timeStamping, marked critical, and chains to the last certificate', async () => {
  await withTsa(async (tsa) => {
    const pem = await (await fetch(`${tsa.timestampUrl}/certchain`)).text();
    const certs = pem.split(/(?<=-----END CERTIFICATE-----)\s*/).filter((p) => p.includes('BEGIN'));
    assert.equal(certs.length, 2);
    const leaf = new x509.X509Certificate(certs[0]!);
    const root = new x509.X509Certificate(certs[1]!);
    const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension)!;
    assert.equal(eku.critical, true);
    assert.deepEqual([...eku.usages].map(String), ['1.3.6.1.5.5.7.3.8']);
    assert.equal(await leaf.verify({ publicKey: root.publicKey, signatureOnly: true }), true);
  });
});

test('the JSON form (what @sigstore/sign sends): sha256 imprint, nonce beyond 2^53 echoed exactly, certificates', async () => {
  await withTsa(async (tsa) => {
    const digest = createHash('sha256').update('x').digest();
    const nonce = '340282366920938463463374607431768211455';
    const res = await postTimestamp(
      tsa.timestampUrl,
      jsonBody({
        artifactHash: digest.toString('base64'),
        hashAlgorithm: 'sha256',
        nonce,
        certificates: true,
      }),
      'application/json',
    );
    assert.equal(res.status, 200);
    assert.equal(res.type, 'application/timestamp-reply');
    const info = tstInfo(res.body);
    assert.deepEqual(Buffer.from(info.messageImprint.hashedMessage.buffer), digest);
    assert.equal(BigInt(`0x${Buffer.from(info.nonce!).toString('hex')}`).toString(), nonce);
    assert.equal(info.policy, '1.3.6.1.4.1.57264.2');
    const signed = AsnConvert.parse(
      AsnConvert.parse(res.body, TimeStampResp).timeStampToken!.content,
      SignedData,
    );
    assert.equal(signed.certificates?.length, 1, 'certificates: true embeds the TSA leaf');
    const genTime = info.genTime.getTime();
    assert.ok(Math.abs(genTime - Date.now()) < 60_000, 'genTime is the system clock');
  });
});

test('a digest whose length does not match the algorithm is a badDataFormat rejection', async () => {
  await withTsa(async (tsa) => {
    const res = await postTimestamp(
      tsa.timestampUrl,
      jsonBody({ artifactHash: Buffer.alloc(20).toString('base64'), hashAlgorithm: 'sha256' }),
      'application/json',
    );
    assert.equal(res.status, 200);
    const resp = AsnConvert.parse(res.body, TimeStampResp);
    assert.equal(resp.status.status, PKIStatus.rejection);
    assert.equal(resp.timeStampToken, undefined);
    assert.equal(resp.status.failInfo!.toNumber(), 1 << 5);
  });
});

test('bad input: malformed, trailing, oversized, wrong type → 4xx JSON {code, message}', async () => {
  await withTsa(async (tsa) => {
    const goodJson = { artifactHash: Buffer.alloc(32).toString('base64'), hashAlgorithm: 'sha256' };
    const cases: { name: string; body: Buffer | string; type?: string; status: number; code: string }[] = [
      { name: 'garbage DER', body: Buffer.from('not der'), status: 400, code: 'INVALID_INPUT' },
      { name: 'empty', body: Buffer.alloc(0), status: 400, code: 'INVALID_INPUT' },
      { name: 'truncated', body: Buffer.from([0x30, 0x10, 0x02, 0x01]), status: 400, code: 'INVALID_INPUT' },
      {
        name: 'a SEQUENCE that is not a TimeStampReq',
        body: Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]),
        status: 400,
        code: 'INVALID_INPUT',
      },
      { name: 'oversized DER', body: Buffer.alloc(64 * 1024, 0x30), status: 413, code: 'TOO_LARGE' },
      {
        name: 'oversized JSON',
        body: jsonBody({ ...goodJson, nonce: '1'.repeat(2000) }),
        type: 'application/json',
        status: 413,
        code: 'TOO_LARGE',
      },
      { name: 'not JSON', body: '{', type: 'application/json', status: 400, code: 'INVALID_INPUT' },
      {
        name: 'bad base64',
        body: jsonBody({ ...goodJson, artifactHash: '!!' }),
        type: 'application/json',
        status: 400,
        code: 'INVALID_INPUT',
      },
      {
        name: 'negative nonce',
        body: jsonBody({ ...goodJson, nonce: -1 }),
        type: 'application/json',
        status: 400,
        code: 'INVALID_INPUT',
      },
      {
        name: 'unknown field',
        body: jsonBody({ ...goodJson, extra: 1 }),
        type: 'application/json',
        status: 400,
        code: 'INVALID_INPUT',
      },
      { name: 'text/plain', body: 'x', type: 'text/plain', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    ];
    for (const c of cases) {
      const res = await postTimestamp(tsa.timestampUrl, c.body, c.type);
      assert.equal(res.status, c.status, `${c.name}: ${res.body.toString()}`);
      const err = JSON.parse(res.body.toString()) as { code: string; message: string };
      assert.equal(err.code, c.code, c.name);
      assert.equal(typeof err.message, 'string');
    }
    // The TSA still answers after all of the above.
    const ok = await postTimestamp(tsa.timestampUrl, jsonBody(goodJson), 'application/json');
    assert.equal(ok.status, 200);
  });
});

test('DER request with trailing bytes is a 400', async () => {
  await withTsa(async (tsa) => {
    // version 1, sha256 imprint, no nonce: a minimal valid TimeStampReq, then one extra byte.
    const imprint = Buffer.concat([
      Buffer.from('300d06096086480165030402010500', 'hex'),
      Buffer.from([0x04, 0x20]),
      randomBytes(32),
    ]);
    const inner = Buffer.concat([Buffer.from([0x02, 0x01, 0x01, 0x30, imprint.length]), imprint]);
    const req = Buffer.concat([Buffer.from([0x30, inner.length]), inner]);
    assert.equal((await postTimestamp(tsa.timestampUrl, req)).status, 200);
    const res = await postTimestamp(tsa.timestampUrl, Buffer.concat([req, Buffer.from([0])]));
    assert.equal(res.status, 400);
  });
});

test('serial allocator: a new process starts above every serial an old one may have issued, even after a crash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-serial-'));
  try {
    const file = join(dir, 'serial');
    const a = new SerialAllocator(file);
    const issued = Array.from({ length: 10 }, () => a.take());
    assert.deepEqual(
      issued,
      Array.from({ length: 10 }, (_, i) => BigInt(i + 1)),
    );
    // "Crash": a is dropped without any shutdown; the mark on disk already covers its block.
    const b = new SerialAllocator(file);
    const next = b.take();
    assert.ok(next > SERIAL_BLOCK, `restart serial ${next} is above the first block`);
    assert.ok(next > issued[issued.length - 1]!);
    writeFileSync(file, 'garbage');
    assert.throws(() => new SerialAllocator(file), /refusing to guess/);
    assert.equal(readFileSync(file, 'utf8'), 'garbage');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
