import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import { ROOT } from '../rekor/helpers.js';

const CASES: { path: string; code: string; ok: boolean }[] = [
  { path: 'src/verify/probe.ts', code: "export { sign } from '../sign/index.js';\n", ok: false },
  {
    path: 'src/verify/probe.ts',
    code: "import type { Signer } from '../sign/types.js';\nexport type S = Signer;\n",
    ok: false,
  },
  {
    path: 'src/crypto/probe.ts',
    code: "import { listen } from '../server/index.js';\nexport const l = listen;\n",
    ok: false,
  },
  {
    path: 'src/admission/probe.ts',
    code: "import { createLog } from '../log/index.js';\nexport const c = createLog;\n",
    ok: false,
  },
  {
    path: 'src/log/store/sqlite/probe.ts',
    code: "import { createLog } from '../../core.js';\nexport const c = createLog;\n",
    ok: false,
  },
  {
    path: 'src/log/store/pg/probe.ts',
    code: "import { TreeReader } from '../../reader.js';\nexport const r = TreeReader;\n",
    ok: false,
  },
  // Downward imports pass.
  {
    path: 'src/verify/probe.ts',
    code: "import { sha256 } from '../crypto/index.js';\nexport const h = sha256;\n",
    ok: true,
  },
  {
    path: 'src/log/store/pg/probe.ts',
    code: "import type { LogStore } from '../types.js';\nexport type S = LogStore;\n",
    ok: true,
  },
];

test('the import order is a lint rule: an import against it fails ESLint (npm run lint), one along it passes', async () => {
  // The repository's own eslint.config.js, as `npm run lint` loads it.
  const eslint = new ESLint({ cwd: ROOT });
  for (const c of CASES) {
    const [r] = await eslint.lintText(c.code, { filePath: join(ROOT, c.path) });
    const rules = r!.messages.map((m) => m.ruleId);
    const text = r!.messages.map((m) => m.message).join('; ');
    if (c.ok) assert.deepEqual(rules, [], `${c.path}: ${c.code}${text}`);
    else assert.deepEqual(rules, ['no-restricted-imports'], `${c.path} must fail: ${c.code}${text}`);
  }
});
