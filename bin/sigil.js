#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader (no build step).
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

// tsx reads tsconfig.json from the working directory; the ASN.1 classes need its decorator settings wherever sigil runs.
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { main } = await import(fileURLToPath(new URL('../src/cli/main.ts', import.meta.url)));
process.exitCode = await main(process.argv.slice(2));
