#!/usr/bin/env node
// The Sigstore conformance suite's client entrypoint (sign-bundle / verify-bundle), through tsx.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

// tsx reads tsconfig.json from the working directory; the ASN.1 classes need its decorator settings wherever sigil runs.
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { conformanceMain } = await import(
  fileURLToPath(new URL('../src/conformance/main.ts', import.meta.url))
);
process.exitCode = await conformanceMain(process.argv.slice(2));
