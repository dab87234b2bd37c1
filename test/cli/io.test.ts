import assert from 'node:assert/strict';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';

/** A stream that keeps what it is given. */
function capture(): { write(text: string): boolean; text(): string } {
  let out = '';
  return {
    write: (text: string) => {
      out += text;
      return true;
    },
    text: () => out,
  };
}

test('main(argv, io) runs in the world it is handed: its env, its stderr, the process untouched', async () => {
  const before = { ...process.env };
  const stderr = capture();
  const stdout = capture();
  const env = { SIGIL_LOG_URL: 'http://127.0.0.1:1' };
  const code = await main(['log', 'info'], { env, stderr, stdout });
  assert.equal(code, 1);
  assert.match(stderr.text(), /^sigil: error: .*127\.0\.0\.1:1/m, 'the handed env chose the log URL');
  assert.equal(stdout.text(), '');
  assert.deepEqual({ ...process.env }, before, 'process.env is not rewritten');
  const other = capture();
  const [a, b] = await Promise.all([
    main(['log', 'info'], { env: { SIGIL_LOG_URL: 'http://127.0.0.1:2' }, stderr: other }),
    main(['log', 'info'], { env: { SIGIL_LOG_URL: 'http://127.0.0.1:3' }, stderr }),
  ]);
  assert.deepEqual([a, b], [1, 1]);
  assert.match(other.text(), /127\.0\.0\.1:2/);
  assert.doesNotMatch(other.text(), /127\.0\.0\.1:3/, 'two runs in one process do not mix their worlds');
});
