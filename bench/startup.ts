// Start-up time of the built CLI against `node -e 0` measured in the same hyperfine run (and the
// old way, tsx compiling src/ on every start, for reference), plus the pure-JS ECDSA fallback's
// cost against the native addon. Prints one JSON object.
// Usage: npm run bench:startup [-- --runs 20]   (needs `npm run build` and hyperfine)
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsAddon, type NativeAddon } from '../src/crypto/prehashed-js.js';

const DIR = process.env.SIGIL_PUBLIC_FIXTURES ?? '/work/shared/fixtures/public-sigstore/';
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20;
const node = process.execPath;
const verifyBlob = [
  'verify-blob',
  `--bundle ${DIR}bundleV03-dsse.sigstore`,
  `--trusted-root ${DIR}trusted_root.json`,
  '--certificate-identity brian@dehamer.com',
  '--certificate-oidc-issuer https://github.com/login/oauth',
].join(' ');
const commands: { name: string; command: string; goal?: number }[] = [
  { name: 'node -e 0', command: `${node} -e 0` },
  { name: 'sigil --version', command: `${node} bin/sigil.js --version`, goal: 2 },
  { name: 'sigil verify-blob (public-good bundle)', command: `${node} bin/sigil.js ${verifyBlob}`, goal: 4 },
  {
    name: 'tsx src/cli/main.ts --version (no build: tsx compiles on start)',
    command: `${node} --import tsx src/cli/main.ts --version`,
  },
];

interface HyperfineResult {
  median: number;
  user: number;
  system: number;
  times: number[];
}

const out = mkdtempSync(join(tmpdir(), 'sigil-startup-'));
const json = join(out, 'hyperfine.json');
const h = spawnSync(
  'hyperfine',
  ['-N', '--warmup', '3', '--runs', String(RUNS), '--export-json', json, ...commands.map((c) => c.command)],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
if (h.error || h.status !== 0) {
  console.error(`hyperfine failed (${h.error?.message ?? `exit ${h.status}`}): apt-get install hyperfine`);
  process.exit(1);
}
const results = (JSON.parse(readFileSync(json, 'utf8')) as { results: HyperfineResult[] }).results;
rmSync(out, { recursive: true, force: true });
const base = results[0]!;
const ms = (s: number): number => Math.round(s * 10_000) / 10;
const startup = commands.map((c, i) => {
  const r = results[i]!;
  const ratio = Math.round((r.median / base.median) * 100) / 100;
  const cpuRatio = Math.round(((r.user + r.system) / (base.user + base.system)) * 100) / 100;
  return {
    name: c.name,
    medianMs: ms(r.median),
    cpuMs: ms(r.user + r.system),
    ratioToNode: ratio,
    cpuRatioToNode: cpuRatio,
    ...(c.goal === undefined ? {} : { goal: `<= ${c.goal}x`, met: ratio <= c.goal }),
  };
});

/**
 * Modules (ESM and CommonJS) and their bytes one start loads: a figure the machine's load does
 * not move, beside the timings it does.
 */
function modulesLoaded(command: string): { modules: number; kB: number } {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-modules-'));
  const log = join(dir, 'modules.txt');
  const hooks = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(${JSON.stringify(log)}, new URL(url).pathname + '\\n');
  return next(url, context);
}`;
  const register = `import Module, { register } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});
process.on('exit', () => appendFileSync(${JSON.stringify(log)}, Object.keys(Module._cache).join('\\n') + '\\n'));`;
  const [, ...args] = command.split(' ');
  spawnSync(node, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, ...args], {
    stdio: 'ignore',
  });
  const files = [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))];
  rmSync(dir, { recursive: true, force: true });
  const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
  return { modules: files.length, kB: Math.round(bytes / 1000) };
}
for (const [i, c] of commands.entries()) {
  if (c.name.startsWith('sigil')) Object.assign(startup[i]!, { loaded: modulesLoaded(c.command) });
}

/** Prehashed ECDSA P-256 verifications (and signatures) per second, native addon vs pure JS. */
function opsPerSecond(addon: NativeAddon): { verify: number; sign: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const digest = createHash('sha256').update('x').digest();
  const sig = sign('sha256', Buffer.from('x'), privateKey);
  const key = addon.parseKey(publicKey.export({ type: 'spki', format: 'der' }));
  const priv = addon.parsePrivateEcKey(privateKey.export({ type: 'pkcs8', format: 'der' }));
  const rate = (fn: () => void): number => {
    let n = 0;
    const start = performance.now();
    for (; performance.now() - start < 1000; n++) fn();
    return Math.round((n * 1000) / (performance.now() - start));
  };
  return {
    verify: rate(() => addon.verify(key, digest, sig)),
    sign: rate(() => addon.signDigest(priv, digest)),
  };
}
const native = opsPerSecond(
  createRequire(import.meta.url)('../native/build/Release/sigil_native.node') as NativeAddon,
);
const js = opsPerSecond(createJsAddon());

console.log(
  JSON.stringify(
    {
      bench: 'startup',
      node: process.version,
      runs: RUNS,
      startup,
      prehashedP256: {
        native,
        pureJs: js,
        slowdown: {
          verify: Math.round((native.verify / js.verify) * 10) / 10,
          sign: Math.round((native.sign / js.sign) * 10) / 10,
        },
      },
    },
    null,
    2,
  ),
);
