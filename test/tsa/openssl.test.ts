import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateTsa, TSA_FILES } from '../../src/tsa/keys.js';
import { createTsaServer, TSA_SERIAL_FILE } from '../../src/tsa/server.js';
import { requireBinary } from '../helpers/env.js';
import { openssl, postTimestamp, withTsa } from './helpers.js';

/** OpenSSL is the independent RFC 3161 client and verifier here. */

function query(dir: string, name: string, hash: string, extra: string[] = []): Buffer {
  const data = join(dir, `${name}.dat`);
  writeFileSync(data, randomBytes(64));
  const tsq = join(dir, `${name}.tsq`);
  const r = openssl(['ts', '-query', '-data', data, `-${hash}`, '-cert', '-out', tsq, ...extra]);
  assert.equal(r.status, 0, r.out);
  return readFileSync(tsq);
}

function field(text: string, label: string): string {
  const m = new RegExp(`^${label}: (.+)$`, 'm').exec(text);
  assert.ok(m, `no ${label} in\n${text}`);
  return m[1]!.trim();
}

test('openssl ts: query → sigil → openssl ts -verify with the /certchain chain; nonces echoed, serials unique across a restart', async (t) => {
  if (!requireBinary(t, 'openssl')) return;
  await withTsa(async (first, dir, restart) => {
    const chainRes = await fetch(`${first.timestampUrl}/certchain`);
    assert.equal(chainRes.status, 200);
    assert.match(chainRes.headers.get('content-type') ?? '', /application\/pem-certificate-chain/);
    const chainPath = join(dir, 'chain.pem');
    writeFileSync(chainPath, await chainRes.text());

    const serials = new Set<string>();
    const run = async (url: string, i: number): Promise<void> => {
      const hash = ['sha256', 'sha384', 'sha512'][i % 3]!;
      const tsq = query(dir, `q${i}`, hash);
      const res = await postTimestamp(url, tsq);
      assert.equal(res.status, 200);
      assert.equal(res.type, 'application/timestamp-reply');
      const tsr = join(dir, `r${i}.tsr`);
      writeFileSync(tsr, res.body);
      const verified = openssl([
        'ts',
        '-verify',
        '-queryfile',
        join(dir, `q${i}.tsq`),
        '-in',
        tsr,
        '-CAfile',
        chainPath,
      ]);
      assert.equal(verified.status, 0, verified.out);
      assert.match(verified.out, /Verification: OK/);
      const reply = openssl(['ts', '-reply', '-in', tsr, '-text']).out;
      const asked = openssl(['ts', '-query', '-in', join(dir, `q${i}.tsq`), '-text']).out;
      assert.equal(field(reply, 'Nonce'), field(asked, 'Nonce'));
      assert.equal(field(reply, 'Policy OID'), '1.3.6.1.4.1.57264.2');
      assert.match(field(reply, 'Accuracy'), /^0x01 seconds/);
      const serial = field(reply, 'Serial number');
      assert.ok(!serials.has(serial), `serial ${serial} repeated`);
      serials.add(serial);
    };
    for (let i = 0; i < 12; i++) await run(first.timestampUrl, i);
    const second = await restart();
    for (let i = 12; i < 24; i++) await run(second.timestampUrl, i);
    assert.equal(serials.size, 24);
  });
});

test('openssl ts -verify fails on a reply with one byte changed, and on a reply for another query', async (t) => {
  if (!requireBinary(t, 'openssl')) return;
  await withTsa(async (tsa, dir) => {
    writeFileSync(join(dir, 'chain.pem'), await (await fetch(`${tsa.timestampUrl}/certchain`)).text());
    const tsq = query(dir, 'q', 'sha256');
    const res = await postTimestamp(tsa.timestampUrl, tsq);
    const verify = (reply: Buffer, queryFile = 'q.tsq') => {
      writeFileSync(join(dir, 'x.tsr'), reply);
      return openssl([
        'ts',
        '-verify',
        '-queryfile',
        join(dir, queryFile),
        '-in',
        join(dir, 'x.tsr'),
        '-CAfile',
        join(dir, 'chain.pem'),
      ]);
    };
    assert.equal(verify(res.body).status, 0, 'the untouched reply verifies');
    // One byte of the imprint inside TSTInfo (signed content), and the signature's last byte.
    const digestAt = tsq.indexOf(Buffer.from([0x04, 0x20])) + 2;
    const at = res.body.indexOf(tsq.subarray(digestAt, digestAt + 32));
    assert.ok(at > 0, 'imprint found in the reply');
    for (const pos of [at + 5, res.body.length - 1]) {
      const tampered = Buffer.from(res.body);
      tampered[pos]! ^= 0x01;
      const r = verify(tampered);
      assert.notEqual(r.status, 0, `a reply with byte ${pos} flipped verified`);
      assert.doesNotMatch(r.out, /Verification: OK/);
    }
    query(dir, 'other', 'sha256');
    assert.notEqual(verify(res.body, 'other.tsq').status, 0, 'a reply verified for another query');
  });
});

test('weak and unknown hash algorithms get a rejection TimeStampResp with badAlg, not an HTTP error', async (t) => {
  if (!requireBinary(t, 'openssl')) return;
  await withTsa(async (tsa, dir) => {
    for (const hash of ['sha1', 'md5', 'sha3-256']) {
      const tsq = query(dir, hash, hash);
      const res = await postTimestamp(tsa.timestampUrl, tsq);
      assert.equal(res.status, 200, hash);
      assert.equal(res.type, 'application/timestamp-reply');
      writeFileSync(join(dir, `${hash}.tsr`), res.body);
      const text = openssl(['ts', '-reply', '-in', join(dir, `${hash}.tsr`), '-text']).out;
      assert.match(text, /Status: Rejected/, hash);
      assert.match(text, /Failure info: unrecognized or unsupported algorithm identifier/, hash);
      assert.match(text, /TST info:\s*\nNot included/, hash);
    }
    const policy = query(dir, 'policy', 'sha256', ['-tspolicy', '1.2.3.4']);
    writeFileSync(join(dir, 'p.tsr'), (await postTimestamp(tsa.timestampUrl, policy)).body);
    assert.match(
      openssl(['ts', '-reply', '-in', join(dir, 'p.tsr'), '-text']).out,
      /Failure info: the requested TSA policy is not supported by the TSA/,
    );
  });
});

test('--key-file/--chain-file (a Secret): tokens from that key verify with that chain in openssl; the data dir keeps only the serial mark; a key that is not the leaf is refused', async (t) => {
  if (!requireBinary(t, 'openssl')) return;
  const made = mkdtempSync(join(tmpdir(), 'sigil-tsa-made-'));
  const data = mkdtempSync(join(tmpdir(), 'sigil-tsa-data-'));
  t.after(() => {
    rmSync(made, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });
  await loadOrCreateTsa(made);
  const keyFile = join(made, TSA_FILES.leafKey);
  const chainFile = join(made, TSA_FILES.chain);
  const tsa = await createTsaServer({ dataDir: data, port: 0, logLevel: 'silent', keyFile, chainFile });
  try {
    const tsq = query(data, 'q', 'sha256');
    const res = await postTimestamp(tsa.timestampUrl, tsq);
    assert.equal(res.status, 200);
    writeFileSync(join(made, 'r.tsr'), res.body);
    const verified = openssl([
      'ts',
      '-verify',
      '-queryfile',
      join(data, 'q.tsq'),
      '-in',
      join(made, 'r.tsr'),
      '-CAfile',
      chainFile,
    ]);
    assert.equal(verified.status, 0, verified.out);
  } finally {
    await tsa.close();
  }
  assert.deepEqual(
    readdirSync(data).filter((f) => !f.startsWith('q.')),
    [TSA_SERIAL_FILE],
  );
  await assert.rejects(
    createTsaServer({
      dataDir: data,
      port: 0,
      logLevel: 'silent',
      keyFile: join(made, TSA_FILES.rootKey),
      chainFile,
    }),
    /is not the key of the first certificate/,
  );
});
