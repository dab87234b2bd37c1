import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { generateP256 } from '../../src/crypto/index.js';
import { isSigilError } from '../../src/errors/index.js';
import { buildTufRoot } from '../../src/tuf/index.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-tuf-rt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const policy = (root: string, mirror = 'https://tuf.example') => `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: rt
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
  matchImageReferences:
    - glob: "ghcr.io/*"
  attestors:
    - name: a
      cosign:
        keyless:
          identities: [{subject: a, issuer: b}]
        tuf:
          mirror: ${mirror}
          root:
${root}
  validations:
    - expression: "true"
`;
const refused = (yaml: string, why: RegExp) =>
  assert.throws(
    () => parsePolicyText(yaml, 'p.yaml', { hasTrustedRoot: false }),
    (e: unknown) => isSigilError(e, 'INVALID_POLICY') && why.test(e.message),
  );

test('tuf.root.path that is not a regular file (a device, a FIFO) is refused, neither read forever nor blocked on', (t) => {
  refused(
    policy('            path: /dev/zero'),
    /tuf\.root\.path: cannot read "\/dev\/zero": not a regular file/,
  );
  const fifo = join(tempDir(t), 'root.fifo');
  execFileSync('mkfifo', [fifo]);
  refused(policy(`            path: ${fifo}`), /tuf\.root\.path: cannot read .*: not a regular file/);
  const dir = tempDir(t);
  refused(policy(`            path: ${dir}`), /tuf\.root\.path: cannot read .*: not a regular file/);
  const root = join(dir, 'root.json');
  writeFileSync(root, buildTufRoot(generateP256().privateKey, new Date()));
  assert.equal(
    parsePolicyText(policy(`            path: ${root}`), 'p.yaml', { hasTrustedRoot: false }).length,
    1,
  );
});
