#!/usr/bin/env node
// The sigil command: runs the JavaScript that `npm run build` (the `prepare` step of `npm ci`) emits into dist/.
// (esbuild compiled the ASN.1 classes' decorators with tsconfig.json's settings, so any working directory works.)
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('sigil: error: dist/ is missing: run `npm run build` (or `npm ci`) first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
