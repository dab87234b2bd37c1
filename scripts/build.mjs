// `npm run build`: transpiles src/**/*.ts one file to one file into dist/ with esbuild (types are
// checked by `npm run typecheck`). One file per source, not a bundle, so dist/ mirrors src/: paths
// relative to import.meta.url (web/, native/, worker entry points) stay valid, and the CLI's lazy
// import() of each command stays lazy. Takes well under a second, so the test runner builds first.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: walk('src'),
  outdir: 'dist',
  outbase: 'src',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  bundle: false,
  sourcemap: false,
  logLevel: 'warning',
  tsconfig: 'tsconfig.json',
});
