import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileExpression, ivpEnv, CEL_LIMITS } from '../../../src/admission/ivp/index.js';

const ALL = new Set(['object']);
const load = (src: string, expected: 'bool' | 'dyn' = 'bool') =>
  compileExpression(ivpEnv(), src, 'spec.validations[0].expression', ALL, expected);
const refused = (src: string, why: RegExp, expected: 'bool' | 'dyn' = 'bool') =>
  assert.throws(
    () => load(src, expected),
    (e: Error) => {
      assert.match(e.message, /^spec\.validations\[0\]\.expression: /);
      assert.match(e.message, why);
      return true;
    },
  );

test('syntax and type errors refuse the expression at load, with position', () => {
  refused("object.metadata.name == 'x' &&", /syntax error: at 1:\d+/);
  refused(
    'object.spec.containers.all(c, c.image.startsWith(1))',
    /no matching overload for 'startsWith' applied to \(int\)/,
  );
  refused('images.containers.size() > 0', /undeclared reference to 'images' at line 1, column 1/);
  refused(
    "object.x == 'a'\n  && nosuchfn(object.y)",
    /no matching overload for 'nosuchfn'.* at line 2, column 6/,
  );
  refused("'a' + 'b'", /must return bool, not int \| uint \| double/);
  assert.equal(
    load("object.metadata.name == 'x'").run({ object: new Map([['metadata', new Map([['name', 'x']])]]) }),
    true,
  );
});

test('an exponential expression is refused by the estimated cost', () => {
  const l = '[0,1,2,3,4,5,6,7,8,9]';
  const nested = `${l}.all(a, ${l}.all(b, ${l}.all(c, ${l}.all(d, ${l}.all(e, ${l}.all(f, a + b + c + d + e + f >= 0))))))`;
  refused(nested, /estimated rule cost exceeds budget/);
  // Two levels over literal lists cost 10×10 steps: well inside.
  assert.equal(load(`${l}.all(a, ${l}.all(b, a + b >= 0))`).run({}), true);
});

test('a runaway comprehension over input is stopped by the runtime budget, as an error', () => {
  // Two levels over a list read from the object: the estimate assumes a modest list; the
  // object brings 1000 elements, so 10^6 steps are asked for and the meter stops it.
  const expr = load('object.l.all(a, object.l.all(b, a + b >= 0))');
  const list = Array.from({ length: 1000 }, (_, i) => BigInt(i));
  const started = process.hrtime.bigint();
  const out = expr.run({ object: new Map([['l', list]]) });
  assert.ok(out instanceof Error, 'an error, not a value');
  assert.match(out.message, /cost limit exceeded/);
  assert.ok(process.hrtime.bigint() - started > 0n);
  // The same expression over a small list evaluates normally (the meter is reset per call).
  assert.equal(expr.run({ object: new Map([['l', [1n, 2n]]]) }), true);
});

test('a 10 MB string literal is refused at load', () => {
  refused(`object.x == '${'a'.repeat(10 * 1024 * 1024)}'`, /longer than \d+ characters/);
});

test('deep nesting is refused at load, never a stack overflow', () => {
  refused(`${'('.repeat(5000)}true${')'.repeat(5000)}`, /nests brackets deeper than/);
  refused(`object${'.x'.repeat(CEL_LIMITS.maxAstDepth + 10)} == 1`, /nested too deeply/);
  refused(`${'['.repeat(10_000)}`, /nests brackets deeper than/);
});

test('a regex that is not linear (backreference, lookaround) is refused at load', () => {
  refused("object.x.matches('(a+)\\\\1')", /invalid regular expression \(RE2 syntax required\)/);
  refused("object.x.matches('a(?=b)')", /invalid regular expression/);
  // RE2 patterns run in linear time on a long input.
  const expr = load("object.x.matches('^(a+)+$')");
  assert.equal(expr.run({ object: new Map([['x', `${'a'.repeat(100_000)}b`]]) }), false);
});

test('hostile objects: no prototype property is reachable, a $typeName key is just a key, ints are ints', async () => {
  const { toCel } = await import('../../../src/admission/ivp/input.js');
  const object = toCel(JSON.parse('{"$typeName":"google.protobuf.Any","n":3,"x":1.5,"a":[{"b":2}]}'));
  assert.equal(
    load('has(object.constructor) || has(object.__proto__) || has(object.toString)').run({ object }),
    false,
  );
  assert.equal(load("object['$typeName'] == 'google.protobuf.Any'").run({ object }), true);
  assert.equal(
    load('object.n + 1 == 4 && object.a[0].b * 2 == 4').run({ object }),
    true,
    'integral numbers are int',
  );
  assert.equal(load('object.x > 1.0').run({ object }), true);
  let deep: unknown = 'bottom';
  for (let i = 0; i < 200; i++) deep = { d: deep };
  const path = `object${'.d'.repeat(80)} == 'bottom'`;
  const out = compileExpression(ivpEnv(), path, 'p', ALL, 'bool').run({ object: toCel(deep) });
  assert.ok(out instanceof Error, 'reading deeper than the bound is an error');
});
