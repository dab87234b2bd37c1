// What can be checked of the image and the manifests without a container engine or a cluster:
// the Dockerfile copies only paths that exist (in the build context, allowed by .dockerignore, or
// in the output of the stages before), its final stage laid out on disk runs the CLI, and every
// manifest under deploy/ parses, is reachable from deploy/kustomization.yaml, and gives sigil's
// containers only commands and flags that `sigil <cmd> --help` lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const IMAGE = `ghcr.io/sigil-project/sigil:${VERSION}`;

interface Copy {
  stage: string;
  from?: string;
  sources: string[];
  dest: string;
}

function parseDockerfile(text: string): {
  copies: Copy[];
  workdirs: Map<string, string>;
  entrypoint: string[];
} {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const copies: Copy[] = [];
  const workdirs = new Map<string, string>();
  let stage = '';
  let entrypoint: string[] = [];
  for (const line of lines.map((l) => l.trim())) {
    const [op, ...rest] = line.split(/\s+/);
    if (op === 'FROM') stage = rest[2] ?? 'final';
    if (op === 'WORKDIR') workdirs.set(stage, rest[0]!);
    if (op === 'ENTRYPOINT') entrypoint = JSON.parse(line.slice('ENTRYPOINT'.length)) as string[];
    if (op !== 'COPY') continue;
    const from = rest.find((a) => a.startsWith('--from='))?.slice('--from='.length);
    const paths = rest.filter((a) => !a.startsWith('--'));
    copies.push({ stage, ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths.at(-1)! });
  }
  return { copies, workdirs, entrypoint };
}

/** .dockerignore as this project writes it: `*`, then `!path` re-includes (a file, a folder, or `*` globs). */
function dockerignoreAllows(rules: string[], path: string): boolean {
  let allowed = true;
  for (const rule of rules) {
    const negate = rule.startsWith('!');
    const pattern = (negate ? rule.slice(1) : rule).replace(/\/$/, '');
    const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
    if (re.test(path)) allowed = negate;
  }
  return allowed;
}

const dockerfile = parseDockerfile(readFileSync('Dockerfile', 'utf8'));
const ignoreRules = readFileSync('.dockerignore', 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

test('every path the Dockerfile copies exists: in the context (and not ignored), or in an earlier stage', () => {
  assert.ok(dockerfile.copies.length >= 8, 'COPY lines found');
  for (const c of dockerfile.copies) {
    for (const src of c.sources) {
      // A stage's WORKDIR is this checkout after its steps (npm ci, npm run build).
      const local = c.from ? relative(dockerfile.workdirs.get(c.from)!, src) : src.replace(/^\.\//, '');
      assert.ok(!local.startsWith('..'), `${src} is outside stage ${c.from}'s WORKDIR`);
      assert.ok(existsSync(local || '.'), `${c.from ?? 'context'}: ${src} (${local}) exists`);
      if (!c.from) assert.ok(dockerignoreAllows(ignoreRules, local), `${src} is excluded by .dockerignore`);
    }
  }
  for (const p of [
    'test/helpers/env.ts',
    'bench/startup.ts',
    'node_modules/yaml/package.json',
    'dist/cli/main.js',
    '.git',
  ])
    assert.equal(dockerignoreAllows(ignoreRules, p), false, `${p} stays out of the build context`);
  assert.ok(existsSync('dist/cli/main.js'), 'the build output holds the CLI');
});

test('the final stage, laid out on disk as the Dockerfile copies it, runs the built CLI as its entrypoint', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'sigil-image-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const workdir = dockerfile.workdirs.get('final')!;
  assert.deepEqual(dockerfile.entrypoint, ['node', `${workdir}/bin/sigil.js`]);
  for (const c of dockerfile.copies.filter((x) => x.stage === 'final')) {
    for (const src of c.sources) {
      const local = c.from ? relative(dockerfile.workdirs.get(c.from)!, src) : src;
      const destDir = join(root, workdir, c.dest);
      // COPY dir/ dest/ copies the folder's content into dest/; COPY file dest/ puts it in dest/.
      const target = src.endsWith('/') ? destDir : join(destDir, local.split('/').at(-1)!);
      mkdirSync(dirname(target), { recursive: true });
      if (local === 'node_modules') symlinkSync(resolve('node_modules'), target.replace(/\/$/, ''));
      else cpSync(local, target, { recursive: true });
    }
  }
  const entry = join(root, dockerfile.entrypoint[1]!);
  assert.ok(!existsSync(join(root, workdir, 'src')), 'no TypeScript sources in the image');
  const version = spawnSync(process.execPath, [entry, '--version'], { cwd: root, encoding: 'utf8' });
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), VERSION);
  const help = spawnSync(process.execPath, [entry, 'admission', 'serve', '--help'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(help.status, 0, help.stderr);
  assert.doesNotMatch(help.stderr, /warning: native addon/, 'the addon was copied where it is loaded from');
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form manifests, checked field by field
type Doc = Record<string, any>;
interface SigilContainer {
  where: string;
  args: string[];
}

function manifests(): { file: string; docs: Doc[] }[] {
  const out: { file: string; docs: Doc[] }[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.yaml')) {
        const parsed = parseAllDocuments(readFileSync(p, 'utf8'));
        for (const d of parsed) assert.deepEqual(d.errors, [], `${p} parses`);
        out.push({ file: p, docs: parsed.map((d) => d.toJS() as Doc).filter((d) => d !== null) });
      }
    }
  };
  walk('deploy');
  return out;
}

function podSpecs(doc: Doc): Doc[] {
  if (doc.kind === 'CronJob') return [doc.spec.jobTemplate.spec.template.spec];
  return ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet'].includes(doc.kind)
    ? [doc.spec.template.spec]
    : [];
}

/** Flags `sigil <path> --help` lists; undefined when the command does not exist. */
const helpCache = new Map<string, Set<string> | undefined>();
function flagsOf(path: string[]): Set<string> | undefined {
  const key = path.join(' ');
  if (!helpCache.has(key)) {
    const r = spawnSync(process.execPath, ['bin/sigil.js', ...path, '--help'], { encoding: 'utf8' });
    const usage = r.status === 0 && r.stdout.startsWith(`Usage: sigil ${key} `);
    helpCache.set(key, usage ? new Set(r.stdout.match(/--[a-z][a-z0-9-]*/g) ?? []) : undefined);
  }
  return helpCache.get(key);
}

/** Problems with one container's args: an unknown command, or a flag its --help does not list. */
function checkArgs(args: string[]): string[] {
  const firstFlag = args.findIndex((a) => a.startsWith('-'));
  const path = firstFlag < 0 ? args : args.slice(0, firstFlag);
  const flags = flagsOf(path);
  if (!flags) return [`no command 'sigil ${path.join(' ')}'`];
  return args
    .filter((a) => a.startsWith('--'))
    .map((a) => a.split('=')[0]!)
    .filter((f) => !flags.has(f))
    .map((f) => `sigil ${path.join(' ')} has no ${f}`);
}

test('every manifest parses, is reachable from deploy/kustomization.yaml, and runs sigil with flags it accepts', () => {
  const all = manifests();
  const reached = new Set<string>();
  const visit = (dir: string): void => {
    const k = parseAllDocuments(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as Doc;
    reached.add(join(dir, 'kustomization.yaml'));
    for (const r of k.resources as string[]) {
      const p = join(dir, r);
      assert.ok(existsSync(p), `${dir}/kustomization.yaml names ${r}, which exists`);
      if (existsSync(join(p, 'kustomization.yaml'))) visit(p);
      else reached.add(p);
    }
  };
  visit('deploy');
  assert.deepEqual(
    all.map((m) => m.file).filter((f) => !reached.has(f)),
    [],
    'no manifest left out of the kustomization',
  );

  const containers: SigilContainer[] = [];
  for (const { file, docs } of all)
    for (const doc of docs)
      for (const spec of podSpecs(doc))
        for (const c of [...(spec.initContainers ?? []), ...spec.containers] as Doc[]) {
          assert.equal(c.image, IMAGE, `${file} ${doc.kind}/${doc.metadata.name}: the image of this version`);
          if (c.command === undefined)
            containers.push({ where: `${file} ${doc.kind}/${doc.metadata.name} ${c.name}`, args: c.args });
        }
  const commands = new Set(
    containers.map((c) =>
      c.args
        .filter((a) => !a.startsWith('-'))
        .slice(0, 2)
        .join(' '),
    ),
  );
  for (const want of ['admission serve', 'ca serve', 'log serve', 'log migrate', 'tsa serve'])
    assert.ok(commands.has(want), `a container runs sigil ${want}`);
  for (const c of containers) assert.deepEqual(checkArgs(c.args), [], c.where);
  const log = all
    .flatMap((m) => m.docs)
    .find((d) => d.kind === 'Deployment' && d.metadata.name === 'sigil-log')!;
  assert.ok(log.spec.replicas > 1, 'the log runs as several replicas');
  assert.ok(log.spec.template.spec.containers[0].args.includes('--store=postgres'));
  assert.ok(
    log.spec.template.spec.volumes.some((v: Doc) => v.secret?.secretName === 'sigil-log-key'),
    'the replicas share one log key from a Secret',
  );
});

test('the timestamp authority: one replica replaced with Recreate, key and chain from a Secret, serial mark on a volume, non-root, read-only root', () => {
  const docs = manifests().flatMap((m) => m.docs);
  const tsa = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'sigil-tsa')!;
  assert.ok(tsa, 'a Deployment sigil-tsa');
  // One counter per volume: a second pod counting from the same mark would repeat serials.
  assert.equal(tsa.spec.replicas, 1);
  assert.equal(tsa.spec.strategy.type, 'Recreate');
  const spec = tsa.spec.template.spec;
  const c = spec.containers[0];
  assert.deepEqual(c.args.slice(0, 2), ['tsa', 'serve']);
  const flag = (name: string): string => {
    const a = (c.args as string[]).find((x) => x.startsWith(`${name}=`));
    assert.ok(a, `${name} is set`);
    return a.slice(name.length + 1);
  };
  const mountOf = (path: string): Doc => {
    const m = (c.volumeMounts as Doc[]).find(
      (v) => path === v.mountPath || path.startsWith(`${v.mountPath}/`),
    );
    assert.ok(m, `${path} is on a mounted volume`);
    return spec.volumes.find((v: Doc) => v.name === m.name);
  };
  for (const f of ['--key-file', '--chain-file'])
    assert.equal(mountOf(flag(f)).secret?.secretName, 'sigil-tsa-key', `${f} comes from the Secret`);
  const claim = mountOf(flag('--data-dir')).persistentVolumeClaim?.claimName;
  assert.ok(
    docs.some((d) => d.kind === 'PersistentVolumeClaim' && d.metadata.name === claim),
    'the serial mark is on a PersistentVolumeClaim of the stack',
  );
  assert.equal(spec.securityContext.runAsNonRoot, true);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  const service = docs.find((d) => d.kind === 'Service' && d.metadata.name === 'sigil-tsa')!;
  assert.equal(service.spec.ports[0].targetPort, c.ports[0].name);
  assert.equal(Number(flag('--port')), c.ports[0].containerPort);
});

test('the args check refuses an unknown command or flag (so the manifest check can fail)', () => {
  assert.deepEqual(checkArgs(['log', 'serve', '--port=3000']), []);
  assert.deepEqual(checkArgs(['log', 'serve', '--prot=3000']), ['sigil log serve has no --prot']);
  assert.deepEqual(checkArgs(['ca', 'srve']), ["no command 'sigil ca srve'"]);
});
