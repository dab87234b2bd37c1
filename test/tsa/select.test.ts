import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectService, selectServices } from '../../src/signing-config/select.js';
import {
  buildSigningConfig,
  parseSigningConfig,
  signingConfigToJson,
  type Service,
} from '../../src/signing-config/config.js';
import { chooseServices, chooseTsaUrls } from '../../src/signing-config/resolve.js';

const now = new Date('2026-06-01T00:00:00Z');
const svc = (url: string, v: number, start: string, operator = 'a', end?: string): Service => ({
  url,
  majorApiVersion: v,
  validFor: { start: new Date(start), ...(end ? { end: new Date(end) } : {}) },
  operator,
});

test('selectService: highest supported version, valid now (ends inclusive), newest start', () => {
  const list = [
    svc('http://old', 1, '2025-01-01T00:00:00Z'),
    svc('http://new', 1, '2026-01-01T00:00:00Z'),
    svc('http://future', 1, '2027-01-01T00:00:00Z'),
    svc('http://v2', 2, '2026-01-01T00:00:00Z'),
  ];
  assert.equal(selectService(list, [1], now, 'CA').url, 'http://new');
  assert.equal(selectService(list, [1, 2], now, 'CA').url, 'http://v2');
  const ended = [svc('http://edge', 1, '2025-01-01T00:00:00Z', 'a', '2026-06-01T00:00:00Z')];
  assert.equal(selectService(ended, [1], now, 'CA').url, 'http://edge', 'the end is inclusive');
  assert.throws(() => selectService(ended, [1], new Date(now.getTime() + 1), 'CA'), /no CA service/);
  assert.throws(() => selectService(list, [3], now, 'CA'), /no CA service/);
});

test('selectServices: one per operator, one API version only, ANY / ALL / EXACT', () => {
  const list = [
    svc('http://a1', 1, '2025-01-01T00:00:00Z', 'a'),
    svc('http://a2', 1, '2026-01-01T00:00:00Z', 'a'),
    svc('http://b1', 1, '2025-06-01T00:00:00Z', 'b'),
    svc('http://c2', 2, '2026-01-01T00:00:00Z', 'c'),
  ];
  const urls = (s: Service[]) => s.map((x) => x.url).sort();
  assert.deepEqual(urls(selectServices(list, { selector: 'ALL' }, [1], now, 'TSA')), [
    'http://a2',
    'http://b1',
  ]);
  assert.deepEqual(urls(selectServices(list, { selector: 'ALL' }, [1, 2], now, 'TSA')), ['http://c2']);
  const any = selectServices(list, { selector: 'ANY' }, [1], now, 'TSA', () => 1);
  assert.equal(any.length, 1);
  assert.deepEqual(urls(selectServices(list, { selector: 'EXACT', count: 2 }, [1], now, 'TSA')), [
    'http://a2',
    'http://b1',
  ]);
  assert.throws(
    () => selectServices(list, { selector: 'EXACT', count: 3 }, [1], now, 'TSA'),
    /only 2 qualify/,
  );
});

test('signing config: round trip, strict parsing, flags win over the config', () => {
  const built = buildSigningConfig({
    caUrl: 'http://ca',
    oidcUrl: 'http://oidc',
    rekorUrls: ['http://log'],
    tsaUrls: ['http://tsa/api/v1/timestamp'],
    validFrom: new Date('2026-01-01T00:00:00Z'),
  });
  const json = signingConfigToJson(built);
  assert.equal(json.mediaType, 'application/vnd.dev.sigstore.signingconfig.v0.2+json');
  const parsed = parseSigningConfig(JSON.stringify(json));
  assert.deepEqual(parsed, built);
  assert.deepEqual(chooseServices(parsed, {}, now), {
    caUrl: 'http://ca',
    logUrls: ['http://log'],
    rekorV2Urls: [],
    tsaUrls: ['http://tsa/api/v1/timestamp'],
  });
  assert.deepEqual(chooseServices(parsed, { tsaUrl: 'http://other' }, now).tsaUrls, ['http://other']);
  const bad = (patch: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => parseSigningConfig(JSON.stringify({ ...json, ...patch })), re);
  bad({ mediaType: 'x' }, /mediaType/);
  bad({ tsaConfig: { selector: 'SOME' } }, /tsaConfig\.selector/);
  bad({ rekorTlogConfig: { selector: 'EXACT' } }, /rekorTlogConfig\.count/);
  bad({ caUrls: [{ url: 'ftp://x', majorApiVersion: 1 }] }, /caUrls\[0\]\.url/);
  bad(
    { tsaUrls: Array.from({ length: 40 }, () => ({ url: 'http://x', majorApiVersion: 1 })) },
    /more than 32/,
  );
  // v1 and v2 listed: the highest API version sigil speaks (2) wins, never mixed with v1.
  const both = buildSigningConfig({
    rekorUrls: ['http://v1'],
    rekorV2Urls: ['http://v2'],
    validFrom: new Date('2026-01-01T00:00:00Z'),
  });
  assert.deepEqual(chooseServices(both, {}, now).logUrls, ['http://v2']);
  assert.deepEqual(chooseServices(both, {}, now).rekorV2Urls, ['http://v2']);
  // --rekor-url wins; it speaks v2 only when the config lists it as a v2 log.
  assert.deepEqual(chooseServices(both, { logUrl: 'http://v1' }, now).rekorV2Urls, []);
  assert.deepEqual(chooseServices(both, { logUrl: 'http://v2/' }, now).rekorV2Urls, ['http://v2/']);
  const onlyV1 = buildSigningConfig({
    rekorUrls: ['http://v1'],
    validFrom: new Date('2026-01-01T00:00:00Z'),
  });
  assert.deepEqual(chooseServices(onlyV1, {}, now).logUrls, ['http://v1']);
});

test('a config without selectors: fine while the list is empty, an error once there is something to select', () => {
  const base = {
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [{ url: 'http://ca', majorApiVersion: 1, validFor: { start: '2020-01-01T00:00:00Z' } }],
  };
  assert.deepEqual(chooseTsaUrls(parseSigningConfig(JSON.stringify(base)), now), []);
  const withTsa = {
    ...base,
    tsaUrls: [{ url: 'http://tsa', majorApiVersion: 1, validFor: { start: '2020-01-01T00:00:00Z' } }],
  };
  assert.throws(
    () => chooseTsaUrls(parseSigningConfig(JSON.stringify(withTsa)), now),
    /no tsaConfig\.selector/,
  );
  assert.deepEqual(
    chooseTsaUrls(parseSigningConfig(JSON.stringify({ ...withTsa, tsaConfig: { selector: 'ALL' } })), now),
    ['http://tsa'],
  );
});
