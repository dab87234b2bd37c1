// `sigil tsa serve --workers N`: real worker processes on one port, serials leased from the
// primary. Serials are read back from the tokens (asn1-tsp), and OpenSSL verifies one token.
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SignedData } from '@peculiar/asn1-cms';
import { TimeStampResp, TSTInfo } from '@peculiar/asn1-tsp';
import { requireBinary } from '../helpers/env.js';
import { startTsaCluster, type TsaCluster } from '../../src/tsa/cluster.js';
import { LEASE_SIZE, LeasedSerials } from '../../src/tsa/serial.js';
import { openssl, postTimestamp } from './helpers.js';

function serialOf(der: Buffer): bigint {
  const resp = AsnConvert.parse(der, TimeStampResp);
  const sd = AsnConvert.parse(resp.timeStampToken!.content, SignedData);
  const info = AsnConvert.parse(sd.encapContentInfo.eContent!.single!.buffer, TSTInfo);
  return BigInt(`0x${Buffer.from(info.serialNumber).toString('hex')}`);
}

/** `n` JSON requests, `parallel` at a time (fresh connections spread over the workers). */
async function serials(c: TsaCluster, n: number, parallel = 32): Promise<bigint[]> {
  const out: bigint[] = [];
  const body = JSON.stringify({ artifactHash: randomBytes(32).toString('base64'), hashAlgorithm: 'sha256' });
  for (let i = 0; i < n; i += parallel) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(parallel, n - i) }, () =>
        postTimestamp(c.timestampUrl, body, 'application/json'),
      ),
    );
    for (const r of batch) {
      assert.equal(r.status, 200);
      out.push(serialOf(r.body));
    }
  }
  return out;
}

test('2 workers: unique serials from leased ranges across workers, a SIGKILLed worker and a restart; OpenSSL verifies', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-tsa-cluster-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = { dataDir: dir, port: 0, logLevel: 'silent' };
  let c = await startTsaCluster(config, 2);
  try {
    assert.equal(c.pids().length, 2);
    const seen = await serials(c, 256);
    const ranges = new Set(seen.map((s) => (s - 1n) / LEASE_SIZE));
    assert.ok(ranges.size >= 2, `both workers answered (ranges ${[...ranges].join(',')})`);

    const [victim] = c.pids();
    process.kill(victim!, 'SIGKILL');
    for (let i = 0; i < 100 && (c.pids().includes(victim!) || c.pids().length < 2); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.pids().length, 2, 'the primary started another worker');
    seen.push(...(await serials(c, 128)));

    if (requireBinary(t, 'openssl')) {
      const chain = join(dir, 'chain.pem');
      writeFileSync(chain, await (await fetch(`${c.timestampUrl}/certchain`)).text());
      writeFileSync(join(dir, 'data'), 'x');
      const tsq = join(dir, 'q.tsq');
      assert.equal(
        openssl(['ts', '-query', '-data', join(dir, 'data'), '-sha256', '-cert', '-out', tsq]).status,
        0,
      );
      const res = await postTimestamp(c.timestampUrl, readFileSync(tsq));
      writeFileSync(join(dir, 'r.tsr'), res.body);
      const v = openssl(['ts', '-verify', '-queryfile', tsq, '-in', join(dir, 'r.tsr'), '-CAfile', chain]);
      assert.equal(v.status, 0, v.out);
    }
    await c.close();
    const before = seen.reduce((a, b) => (a > b ? a : b));
    c = await startTsaCluster(config, 2);
    const after = await serials(c, 64);
    assert.ok(
      after.every((s) => s > before),
      'after a restart every serial is above every serial before',
    );
    seen.push(...after);
    assert.equal(new Set(seen).size, seen.length, 'no serial repeated');
  } finally {
    await c.close();
  }
});

test('LeasedSerials: concurrent takes while empty get distinct serials, the next lease is asked for early, a failed lease fails only the takes that wait', async () => {
  let leases = 0;
  let failNext = false;
  let next = 1n;
  const leased = new LeasedSerials(async () => {
    leases++;
    await new Promise((r) => setTimeout(r, 5));
    if (failNext) {
      failNext = false;
      throw new Error('primary gone');
    }
    const first = next;
    next += LEASE_SIZE;
    return first;
  });
  const first = await Promise.all(Array.from({ length: 100 }, () => leased.take()));
  assert.equal(new Set(first).size, 100);
  assert.equal(leases, 1);
  const sync: bigint[] = [];
  for (let i = 0; i < Number(LEASE_SIZE) - 100; i++) {
    const s = leased.take();
    assert.equal(typeof s, 'bigint', 'within a lease, take() does not wait');
    sync.push(s as bigint);
  }
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(leases, 2, 'the next range was leased before the first ran out');
  assert.equal(typeof leased.take(), 'bigint', 'the prefetched range is used without waiting');
  // Use up the second range, then make the third lease fail.
  while (true) {
    const s = leased.take();
    if (typeof s !== 'bigint') {
      await s;
      break;
    }
  }
  const all = new Set([...first, ...sync]);
  assert.equal(all.size, Number(LEASE_SIZE));
  // The prefetch made while draining this range fails: only the take that has to wait sees it.
  failNext = true;
  let s = leased.take();
  while (typeof s === 'bigint') s = leased.take();
  await assert.rejects(s, /primary gone/);
  assert.equal(typeof (await leased.take()), 'bigint', 'a later take leases again');
});

test('the built CLI: `sigil tsa serve --workers 2 --port 0` answers, stops on SIGTERM; a bad --workers is one error line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-tsa-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bad = spawnSync(process.execPath, ['bin/sigil.js', 'tsa', 'serve', '--workers', '0'], {
    encoding: 'utf8',
  });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /^sigil: error: invalid --workers "0"\n/);
  const child = spawn(
    process.execPath,
    ['bin/sigil.js', 'tsa', 'serve', '--workers', '2', '--port', '0', '--data-dir', dir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /timestamps at (\S+)\) in 2 worker processes/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error(`exited before listening: ${out}`)));
    });
    const body = JSON.stringify({
      artifactHash: randomBytes(32).toString('base64'),
      hashAlgorithm: 'sha256',
    });
    const res = await postTimestamp(url, body, 'application/json');
    assert.equal(res.status, 200);
    assert.ok(serialOf(res.body) > 0n);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
});
