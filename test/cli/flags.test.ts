import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  checkUrl,
  collect,
  intFlag,
  parsePort,
  readFileFlag,
  readTlsFlags,
  readTrustedRootFile,
} from '../../src/cli/flags.js';
import { CliError } from '../../src/cli/output.js';

test('cli/flags: one parser per kind of flag, each refusing with a sigil error line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-flags-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(intFlag('42', '--n', 0, 100), 42);
  for (const bad of ['1e3', '0x10', ' 5', '-1', '101', '', undefined]) {
    assert.throws(
      () => intFlag(bad, '--n', 0, 100),
      (e: unknown) => {
        assert.ok(e instanceof CliError);
        assert.equal(e.message, `invalid --n ${JSON.stringify(bad)}`);
        assert.equal(e.hint, 'use an integer from 0 to 100');
        return true;
      },
    );
  }
  assert.equal(parsePort('0'), 0);
  assert.throws(() => parsePort('65536'), /invalid port 65536/);
  assert.equal(checkUrl('https://log.example', '--rekor-url'), 'https://log.example');
  assert.throws(() => checkUrl('ftp://x', '--rekor-url'), /--rekor-url "ftp:\/\/x" is not an http\(s\) URL/);
  assert.deepEqual(collect('b', collect('a')), ['a', 'b']);

  const small = join(dir, 'small.pem');
  writeFileSync(small, 'abc');
  assert.equal(readFileFlag(small, 'key', 3).toString(), 'abc');
  assert.throws(
    () => readFileFlag(small, 'key', 2),
    new RegExp(`^Error: key ${small} is larger than 2 bytes$`),
  );
  assert.throws(() => readFileFlag(join(dir, 'none'), 'key', 9), /^Error: cannot read key .*none: ENOENT$/);
  assert.throws(() => readFileFlag(join(dir, 'none'), '', 9), /^Error: cannot read \/.*none: ENOENT$/);
  assert.throws(() => readTrustedRootFile('/nonexistent'), /cannot read trusted root \/nonexistent: ENOENT/);

  assert.equal(readTlsFlags({}), undefined);
  assert.throws(() => readTlsFlags({ tlsCert: small }), /--tls-cert and --tls-key go together/);
  assert.deepEqual(readTlsFlags({ tlsCert: small, tlsKey: small }), { cert: 'abc', key: 'abc' });
});
