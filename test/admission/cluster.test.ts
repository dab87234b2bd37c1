import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { defaultWorkerCount } from '../../src/admission/index.js';
import { generateP256, publicKeyPem } from '../../src/crypto/index.js';
import { ROOT } from '../e2e/stack.js';
import { getText, pod, processAlive, processTree, review } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sigil-admission-cluster-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const policy = join(dir, 'policy.yaml');
writeFileSync(
  policy,
  `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: keyed}
spec:
  rules:
    - name: by-key
      verifyImages:
        - imageReferences: ["example.com/*"]
          failureAction: Enforce
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
${publicKeyPem(generateP256().publicKey)
  .trim()
  .split('\n')
  .map((l) => `                      ${l}`)
  .join('\n')}
`,
);

interface Served {
  child: ChildProcessByStdio<null, Readable, Readable>;
  url: string;
  ca: string;
  out: () => string;
  err: () => string;
}

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function serve(workers: number): Promise<Served> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'admission',
      'serve',
      '--policy',
      policy,
      '--port',
      '0',
      '--workers',
      String(workers),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const [url, bundle] = await until(`listening line and caBundle: ${err}`, () => {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${err}`);
    const u = /listening on (https:\/\/\S+)/.exec(err)?.[1];
    const b = /^caBundle: ([A-Za-z0-9+/=]+)$/m.exec(out)?.[1];
    return u && b ? [u, b] : undefined;
  });
  return {
    child,
    url,
    ca: Buffer.from(bundle, 'base64').toString('utf8'),
    out: () => out,
    err: () => err,
  };
}

/** One review on a new connection (round-robin hands each new connection to the next worker). */
function postFresh(url: string, body: unknown, ca: string): Promise<{ status: number; body: unknown }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The webhook's worker processes: its children running the CLI (tsx's esbuild service is not one). */
function workerPids(primary: number): number[] {
  return processTree(primary)
    .slice(1)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('admission');
      } catch {
        return false;
      }
    });
}

function decisionPids(out: string): number[] {
  return out
    .split('\n')
    .filter((l) => l.includes('"admission.decision"'))
    .map((l) => (JSON.parse(l) as { pid: number }).pid);
}

async function reviewOnce(s: Served, n: number): Promise<void> {
  const r = review('Pod', pod(`outside-${n}`, ['other.example/app:1']));
  const a = await postFresh(`${s.url}/validate`, r, s.ca);
  assert.equal(a.status, 200);
  assert.deepEqual((a.body as { response: unknown }).response, { uid: r.request.uid, allowed: true });
}

describe('sigil admission serve --workers 2', () => {
  it('answers from both workers, aggregates /metrics, restarts a killed worker, and SIGTERM leaves no process', async () => {
    const s = await serve(2);
    const primary = s.child.pid!;
    try {
      const workers = await until('two workers', () => {
        const w = workerPids(primary);
        return w.length === 2 ? w : undefined;
      });
      let sent = 0;
      await until('decisions from both workers', async () => {
        await reviewOnce(s, sent++);
        const seen = new Set(decisionPids(s.out()));
        return workers.every((w) => seen.has(w)) ? true : undefined;
      });
      assert.equal(decisionPids(s.out()).length, sent, 'one decision line per review');
      for (const path of ['/healthz', '/readyz'])
        assert.equal((await getText(`${s.url}${path}`, s.ca)).status, 200);
      // Every worker's decisions, summed by the primary, whichever worker answers /metrics.
      for (let i = 0; i < 2; i++) {
        const metrics = await getText(`${s.url}/metrics`, s.ca);
        assert.match(
          metrics.text,
          new RegExp(`sigil_admission_decisions_total\\{endpoint="validate",outcome="allowed"\\} ${sent}\\n`),
        );
      }

      process.kill(workers[0]!, 'SIGKILL');
      const replaced = await until('a replacement worker', () => {
        const w = workerPids(primary);
        return w.length === 2 && !w.includes(workers[0]!) ? w : undefined;
      });
      assert.match(s.err(), new RegExp(`worker ${workers[0]} was killed by SIGKILL; starting another`));
      const fresh = replaced.find((w) => w !== workers[1])!;
      await until('a decision from the new worker', async () => {
        await reviewOnce(s, sent++);
        return decisionPids(s.out()).includes(fresh) ? true : undefined;
      });
      assert.doesNotMatch(s.out() + s.err(), /PRIVATE KEY/, 'the TLS key is never printed');

      const tree = processTree(primary);
      assert.ok(tree.length >= 3, `primary and two workers: ${tree.join(' ')}`);
      s.child.kill('SIGTERM');
      const [code, signal] = (await once(s.child, 'exit')) as [number | null, string | null];
      assert.deepEqual({ code, signal }, { code: 0, signal: null });
      await until(
        'every process of the webhook gone',
        () => (tree.every((pid) => !processAlive(pid)) ? true : undefined),
        10_000,
      );
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
    }
  });

  it('workers end when the primary is killed outright (no orphans)', async () => {
    const s = await serve(2);
    const workers = await until('two workers', () => {
      const w = workerPids(s.child.pid!);
      return w.length === 2 ? w : undefined;
    });
    s.child.kill('SIGKILL');
    await once(s.child, 'exit');
    await until(
      'workers gone',
      () => (workers.every((pid) => !processAlive(pid)) ? true : undefined),
      10_000,
    );
  });

  it('a worker that cannot start stops the primary with its reason', async () => {
    const s = await serve(2);
    try {
      const port = new URL(s.url).port;
      const second = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'admission',
          'serve',
          '--policy',
          policy,
          '--port',
          port,
          '--workers',
          '2',
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      second.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const [code] = (await once(second, 'exit')) as [number | null];
      assert.notEqual(code, 0);
      assert.match(err, /admission workers did not start: .*EADDRINUSE/);
      assert.doesNotMatch(err, /listening on/);
    } finally {
      s.child.kill('SIGTERM');
      await once(s.child, 'exit');
    }
  });
});

describe('default --workers', () => {
  it('is the CPU count, capped by a cgroup v2 CPU quota', () => {
    const cpus = availableParallelism();
    const cpuMax = (text: string): string => {
      const f = join(dir, `cpu.max-${text.replace(/\s/g, '_')}`);
      writeFileSync(f, `${text}\n`);
      return f;
    };
    assert.equal(defaultWorkerCount(join(dir, 'absent')), cpus);
    assert.equal(defaultWorkerCount(cpuMax('max 100000')), cpus);
    assert.equal(defaultWorkerCount(cpuMax('50000 100000')), 1);
    assert.equal(defaultWorkerCount(cpuMax('150000 100000')), Math.min(cpus, 2));
    assert.equal(defaultWorkerCount(cpuMax('6400000 100000')), cpus);
  });
});
