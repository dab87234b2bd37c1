#!/usr/bin/env node
// The Sigstore conformance suite's client entrypoint (sign-bundle / verify-bundle), through tsx.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

register();
const { conformanceMain } = await import(
  fileURLToPath(new URL('../src/conformance/main.ts', import.meta.url))
);
process.exitCode = await conformanceMain(process.argv.slice(2));
