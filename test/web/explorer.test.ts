import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { requireBinary } from '../helpers/env.js';
import { startStack, type Stack } from '../../src/demo/stack.js';
import { createSigning } from '../../src/sign/factory.js';
import { parseCertificate, sanValues } from '../../src/x509/parse.js';
import type { SignedMessage } from '../../src/sign/bundle-builder.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let dir: string;
let stack: Stack;
const signed: SignedMessage[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sigil-explorer-'));
  stack = await startStack({ dataDir: dir, registry: 'none' });
  const { builder } = createSigning({
    key: {
      kind: 'keyless',
      caUrl: stack.ca.url,
      tokens: {
        env: { ACTIONS_ID_TOKEN_REQUEST_URL: stack.actionsRequestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: stack.actionsRequestToken },
      },
    },
    logUrl: stack.log.url,
  });
  for (const text of ['first artifact', 'second artifact', 'third artifact']) signed.push(await builder.message(Buffer.from(text)));
});

after(async () => {
  if (browser) {
    await browser.ctx.close();
    rmSync(browser.profile, { recursive: true, force: true });
  }
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

let browser: { ctx: BrowserContext; profile: string } | undefined;

/** One headless chromium (fresh profile) for the whole file; each test gets a new page. */
async function withBrowser(fn: (page: Page) => Promise<void>): Promise<void> {
  if (!browser) {
    const profile = mkdtempSync(join(tmpdir(), 'sigil-chromium-'));
    const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true });
    browser = { ctx, profile };
  }
  const page = await browser.ctx.newPage();
  try {
    await fn(page);
  } finally {
    await page.close();
  }
}

async function ready(page: Page): Promise<void> {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
}

async function checkStatuses(page: Page): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const id of ['leaf', 'checkpoint', 'inclusion', 'set']) {
    out[id] = await page.getAttribute(`#checks [data-check="${id}"]`, 'data-status');
  }
  return out;
}

test('the explorer page: tree size, recent entries, search by every key, entry checks in the browser', async (t) => {
  if (!requireBinary(t, CHROMIUM)) return;
  const first = signed[0]!;
  const entry = first.tlogEntries[0]!;
  const cert = parseCertificate(first.signature.material.kind === 'certificate' ? first.signature.material.leaf : Buffer.alloc(0));
  const identity = sanValues(cert)[0]!;
  const digest = `sha256:${first.digest.toString('hex')}`;

  await withBrowser(async (page) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.log.url}/`);
    await ready(page);
    assert.equal(await page.textContent('#tree-size'), '3');
    assert.equal(await page.getAttribute('[data-check="tree-checkpoint"]', 'data-status'), 'pass');
    assert.equal(await page.locator('#recent tbody tr').count(), 3);
    assert.match((await page.textContent('#recent tbody tr:last-child')) ?? '', new RegExp(identity.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

    // Search by digest → one result → its entry page, every check computed in the browser passes.
    await page.fill('#q', digest);
    await page.press('#q', 'Enter');
    await ready(page);
    assert.equal(await page.textContent('#result-count'), '1 entry');
    await page.click('#results tbody tr a');
    await ready(page);
    assert.equal(await page.textContent('#entry-index'), String(entry.logIndex));
    assert.deepEqual(await checkStatuses(page), { leaf: 'pass', checkpoint: 'pass', inclusion: 'pass', set: 'pass' });
    assert.equal(await page.textContent('#cert-identity'), identity);
    assert.equal(await page.textContent('#cert-issuer'), stack.oidc.issuer);
    assert.equal(await page.getAttribute('#cert-validity b', 'data-valid-at-log'), 'true');
    assert.equal(await page.getAttribute('#entry-time', 'data-seconds'), String(entry.integratedTime));
    assert.match((await page.textContent('#entry-body')) ?? '', new RegExp(first.digest.toString('hex')));
    assert.match((await page.textContent('.certificate')) ?? '', /githubWorkflowRepository\s*org\/repo/);
    // SIGIL_UPDATE_SCREENSHOT=1 refreshes the README's picture; otherwise the shot stays in the temp dir.
    const shot = process.env.SIGIL_UPDATE_SCREENSHOT === '1' ? 'docs/explorer-entry.png' : join(dir, 'entry.png');
    mkdirSync(dirname(shot), { recursive: true });
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000);

    // By log index and by entry ID.
    const uuid = (await page.textContent('#entry-uuid'))!;
    await page.goto(`${stack.log.url}/#/search/2`);
    await ready(page);
    assert.equal(await page.textContent('#entry-index'), '2');
    assert.equal((await checkStatuses(page)).inclusion, 'pass');
    await page.fill('#q', uuid);
    await page.press('#q', 'Enter');
    await ready(page);
    assert.equal(await page.textContent('#entry-uuid'), uuid);

    // By identity (SAN) and by email.
    await page.fill('#q', identity);
    await page.press('#q', 'Enter');
    await ready(page);
    assert.equal(await page.textContent('#result-count'), '3 entries');
    await page.fill('#q', 'nobody@example.com');
    await page.press('#q', 'Enter');
    await ready(page);
    assert.equal(await page.textContent('#no-results'), 'No entries.');
    await page.fill('#q', '99');
    await page.press('#q', 'Enter');
    await ready(page);
    assert.match((await page.textContent('#search-error')) ?? '', /not found/);
    assert.deepEqual(errors, []);
  });
});

test('the browser rejects a tampered proof, checkpoint or SET', async (t) => {
  if (!requireBinary(t, CHROMIUM)) return;
  await withBrowser(async (page) => {
    let tamper: 'proof' | 'set' | 'checkpoint' = 'proof';
    await page.route('**/api/v1/log/entries?logIndex=*', async (route) => {
      const res = await route.fetch();
      const map = (await res.json()) as Record<string, { verification: { signedEntryTimestamp: string; inclusionProof: { hashes: string[] } } }>;
      const e = Object.values(map)[0]!;
      if (tamper === 'proof') e.verification.inclusionProof.hashes[0] = 'ab'.repeat(32);
      if (tamper === 'set') e.verification.signedEntryTimestamp = Buffer.from(e.verification.signedEntryTimestamp, 'base64').reverse().toString('base64');
      await route.fulfill({ response: res, json: map });
    });
    await page.route('**/api/v1/log', async (route) => {
      const res = await route.fetch();
      const info = (await res.json()) as { signedTreeHead: string };
      if (tamper === 'checkpoint') info.signedTreeHead = info.signedTreeHead.replace(/\n3\n/, '\n4\n');
      await route.fulfill({ response: res, json: info });
    });
    await page.goto(`${stack.log.url}/#/entry/0`);
    await ready(page);
    assert.deepEqual(await checkStatuses(page), { leaf: 'pass', checkpoint: 'pass', inclusion: 'fail', set: 'pass' });
    assert.equal(await page.getAttribute('#checks', 'data-status'), 'fail');

    tamper = 'set';
    await page.goto(`${stack.log.url}/#/entry/1`);
    await ready(page);
    assert.deepEqual(await checkStatuses(page), { leaf: 'pass', checkpoint: 'pass', inclusion: 'pass', set: 'fail' });

    tamper = 'checkpoint';
    await page.goto(`${stack.log.url}/#/entry/0`);
    await ready(page);
    const s = await checkStatuses(page);
    assert.equal(s.checkpoint, 'fail');
    assert.equal(s.inclusion, 'fail');
  });
});

test('the page is served with a strict CSP, and the certificate endpoint refuses bad input with 400', async () => {
  const res = await fetch(`${stack.log.url}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  assert.match(await res.text(), /<script type="module" src="\/explorer\/explorer.js">/);
  const js = await fetch(`${stack.log.url}/explorer/verify.js`);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  assert.equal((await fetch(`${stack.log.url}/explorer/../package.json`)).status, 404);
  for (const body of ['{"pem": 5}', '{"pem": "no pem here"}', '[]', `{"pem": "${'A'.repeat(70_000)}"}`]) {
    const r = await fetch(`${stack.log.url}/explorer/api/certificate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(r.status, 400, body.slice(0, 40));
    assert.equal(((await r.json()) as { code: string }).code, 'INVALID_INPUT');
  }
  const bad = await fetch(`${stack.log.url}/explorer/api/certificate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }),
  });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { code: string }).code, 'INVALID_CERTIFICATE');
});
