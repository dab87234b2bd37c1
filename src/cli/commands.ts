import type { Command } from 'commander';
import { register as oidc } from './oidc.js';
import { register as ca } from './ca.js';
import { register as trustedRoot } from './trusted-root.js';
import { register as up } from './up.js';
import { register as log } from './log.js';
import { register as sign } from './sign.js';
import { register as keys } from './keys.js';
import { register as verify } from './verify.js';
import { register as blob } from './blob.js';
import { register as attest } from './attest.js';
import { register as tree } from './tree.js';
import { register as demo } from './demo.js';
import { register as admission } from './admission.js';
import { register as monitor } from './monitor.js';

/**
 * Every command group registers itself here; each lives in its own file
 * (src/cli/<group>.ts) exporting `register(program)`.
 */
type Register = (program: Command) => void;

const groups: Register[] = [
  oidc,
  ca,
  trustedRoot,
  up,
  log,
  sign,
  keys,
  verify,
  blob,
  attest,
  tree,
  admission,
  demo,
  monitor,
];

export function registerCommands(program: Command): void {
  for (const register of groups) register(program);
}
