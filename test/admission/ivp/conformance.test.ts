import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCelError, isCelList, isCelMap, isCelUint, type CelValue } from '@bufbuild/cel';
import { tests as conformance } from '@bufbuild/cel-spec/testdata/conformance.js';
import { compileExpression, ivpEnv } from '../../../src/admission/ivp/index.js';

/**
 * A slice of the cel-spec conformance suite (the data @bufbuild/cel ships) run through sigil's
 * compile step — static checks, cost estimate and metered comprehensions included — so the
 * load-time checks refuse nothing the language allows and the meter changes no result.
 */

type Json = Record<string, unknown>;
interface SpecTest {
  original: Json & { name?: string; expr: string };
}
interface Suite {
  name: string;
  suites?: Suite[];
  tests?: SpecTest[];
}

const SUITES = ['basic', 'comparisons', 'integer_math', 'fp_math', 'lists', 'logic', 'macros', 'string'];

function expected(v: Json): unknown {
  if ('int64Value' in v) return BigInt(v.int64Value as string);
  if ('uint64Value' in v) return { uint: BigInt(v.uint64Value as string) };
  if ('doubleValue' in v) return typeof v.doubleValue === 'string' ? Number(v.doubleValue) : v.doubleValue;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('nullValue' in v) return null;
  if ('bytesValue' in v) return Buffer.from(v.bytesValue as string, 'base64').toString('hex');
  if ('listValue' in v) return (((v.listValue as Json).values as Json[] | undefined) ?? []).map(expected);
  if ('mapValue' in v)
    return new Map(
      (((v.mapValue as Json).entries as Json[] | undefined) ?? []).map((e) => [
        expected(e.key as Json),
        expected(e.value as Json),
      ]),
    );
  throw new Error(`unsupported expected value ${JSON.stringify(v)}`);
}

function actual(v: CelValue): unknown {
  if (isCelUint(v)) return { uint: v.value };
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (isCelList(v)) return [...v].map(actual);
  if (isCelMap(v))
    return new Map([...v.entries()].map(([k, x]) => [isCelUint(k) ? { uint: k.value } : k, actual(x)]));
  return v;
}

function comparable(x: unknown): unknown {
  return JSON.stringify(x, (_k, v: unknown) =>
    typeof v === 'bigint'
      ? `${v}n`
      : v instanceof Map
        ? [...v.entries()]
        : typeof v === 'number' && Number.isNaN(v)
          ? 'NaN'
          : v,
  );
}

function collect(s: Suite, out: SpecTest[]): void {
  for (const t of s.tests ?? []) {
    const o = t.original;
    // Kubernetes' CEL has no protobuf messages; sigil refuses their construction at load.
    const proto = /google\.protobuf\.|TestAllTypes|NestedMessage/.test(o.expr);
    const simple = !proto && !o.bindings && !o.typeEnv && !o.container && !o.disableCheck && !o.checkOnly;
    if (simple && (o.value !== undefined || o.evalError !== undefined)) out.push(t);
  }
  for (const x of s.suites ?? []) collect(x, out);
}

for (const name of SUITES) {
  test(`cel-spec conformance: ${name}`, () => {
    const suite = (conformance as Suite).suites!.find((s) => s.name === name)!;
    const cases: SpecTest[] = [];
    collect(suite, cases);
    assert.ok(cases.length > 10, `${name} has cases`);
    const failures: string[] = [];
    let passed = 0;
    for (const { original: o } of cases) {
      const label = `${o.name ?? ''}: ${o.expr}`;
      let out: CelValue | Error;
      try {
        out = compileExpression(ivpEnv(), o.expr, 'conformance', new Set(), 'dyn').run({});
      } catch (e) {
        failures.push(`${label} refused at load: ${(e as Error).message}`);
        continue;
      }
      if (o.evalError !== undefined) {
        if (out instanceof Error || isCelError(out)) passed++;
        else failures.push(`${label}: expected an error, got ${String(comparable(actual(out)))}`);
        continue;
      }
      if (out instanceof Error || isCelError(out)) {
        failures.push(`${label}: ${out.message}`);
        continue;
      }
      const want = comparable(expected(o.value as Json));
      const got = comparable(actual(out));
      if (want === got) passed++;
      else failures.push(`${label}: expected ${String(want)}, got ${String(got)}`);
    }
    // Where @bufbuild/cel itself departs from the spec the case is listed here by name, so a
    // regression in sigil's own checks (which sit in front of it) still fails.
    const known = failures.filter((f) => KNOWN_LIBRARY_GAPS.some((k) => f.startsWith(`${k}:`)));
    assert.deepEqual(
      failures.filter((f) => !known.includes(f)),
      [],
      `${name}: ${passed}/${cases.length} passed`,
    );
    assert.ok(passed >= cases.length - KNOWN_LIBRARY_GAPS.length);
  });
}

const KNOWN_LIBRARY_GAPS: string[] = [];
