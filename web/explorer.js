// The log explorer page: routes on location.hash, reads the Rekor v1 API of the server that serves
// it, and renders with DOM nodes and textContent only (entry data is never parsed as HTML).
/* global location, FileReader, HTMLElement */
import { checkEntry, fromBase64, importP256PublicKey, sha256, toHex, verifyCheckpoint } from './verify.js';

const RECENT = 10;
const MAX_RESULTS = 50;
const view = document.getElementById('view');
const treeBar = document.getElementById('tree');

/** h('td', {class: 'mono'}, 'text', node…) */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof HTMLElement ? c : document.createTextNode(String(c)));
  }
  return el;
}

function show(...nodes) {
  view.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined));
}

async function api(path, init) {
  const res = await fetch(path, init);
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (!res.ok) {
    const err = new Error(body && typeof body === 'object' && body.message ? body.message : `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

const postJson = (path, value) =>
  api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });

/** `{uuid: entry}` → `[{uuid, ...entry}]` */
const entriesOf = (map) => Object.entries(map).map(([uuid, e]) => ({ uuid, ...e }));

function utf8(b64) {
  return new TextDecoder().decode(fromBase64(b64));
}

function decodeBody(entry) {
  try {
    return JSON.parse(utf8(entry.body));
  } catch {
    return null;
  }
}

/** The PEM texts of the keys or certificates an entry body names. */
function verifierPems(body) {
  const spec = body?.spec ?? {};
  const list = body?.kind === 'dsse' ? (spec.signatures ?? []).map((s) => s.verifier) : [spec.signature?.publicKey?.content];
  return list.filter((v) => typeof v === 'string').map((v) => utf8(v));
}

function bodyDigest(body) {
  if (body?.kind === 'hashedrekord') return `${body.spec.data.hash.algorithm}:${body.spec.data.hash.value}`;
  if (body?.kind === 'dsse') return body.spec.payloadHash ? `${body.spec.payloadHash.algorithm}:${body.spec.payloadHash.value}` : '';
  return '';
}

const certCache = new Map();
async function decodeCertificates(pem) {
  if (!pem.includes('BEGIN CERTIFICATE')) return [];
  if (!certCache.has(pem)) certCache.set(pem, postJson('/explorer/api/certificate', { pem }).then((r) => r.certificates));
  return certCache.get(pem);
}

function time(seconds) {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

let logKeyPromise;
function logKey() {
  logKeyPromise ??= api('/api/v1/log/publicKey').then((pem) => importP256PublicKey(pem));
  return logKeyPromise;
}

/** The latest tree head with its checkpoint; the key name is the origin's hostname part. */
async function latestHead() {
  const info = await api('/api/v1/log');
  const origin = info.signedTreeHead.split('\n')[0];
  return { ...info, name: origin.split(' - ')[0], origin };
}

async function renderTree() {
  try {
    const [head, key] = await Promise.all([latestHead(), logKey()]);
    let signed;
    try {
      await verifyCheckpoint(head.signedTreeHead, key, head.name);
      signed = h('span', { 'data-check': 'tree-checkpoint', 'data-status': 'pass' }, '✔ checkpoint signature verified');
    } catch (e) {
      signed = h('span', { 'data-check': 'tree-checkpoint', 'data-status': 'fail' }, `✘ ${e.message}`);
    }
    treeBar.replaceChildren(
      'Tree size ',
      h('b', { id: 'tree-size' }, head.treeSize),
      ' · root ',
      h('code', {}, head.rootHash.slice(0, 16) + '…'),
      ' · tree ID ',
      h('code', {}, head.treeID),
      ' · log ID ',
      h('code', {}, key.logId.slice(0, 16) + '…'),
      ' · ',
      signed,
    );
    return head;
  } catch (e) {
    treeBar.replaceChildren(h('span', { class: 'error' }, `cannot read the log: ${e.message}`));
    return null;
  }
}

/** One table row per entry: index, time, kind, digest, identity. */
async function entryTable(entries) {
  const rows = await Promise.all(
    entries.map(async (e) => {
      const body = decodeBody(e);
      const pems = body ? verifierPems(body) : [];
      const certs = pems[0] ? await decodeCertificates(pems[0]).catch(() => []) : [];
      return h(
        'tr',
        { 'data-uuid': e.uuid },
        h('td', {}, h('a', { href: `#/entry/${e.uuid}` }, e.logIndex)),
        h('td', { class: 'mono' }, time(e.integratedTime)),
        h('td', {}, h('span', { class: 'pill' }, body?.kind ?? '?')),
        h('td', { class: 'mono wrap' }, bodyDigest(body)),
        h('td', { class: 'wrap' }, certs[0]?.identity ?? (pems[0] ? 'public key' : '')),
      );
    }),
  );
  return h(
    'table',
    { class: 'list' },
    h('thead', {}, h('tr', {}, ['index', 'integrated time', 'kind', 'logged digest', 'identity'].map((t) => h('th', {}, t)))),
    h('tbody', {}, rows),
  );
}

async function home() {
  const head = await renderTree();
  if (!head) return show(h('p', { class: 'error' }, 'The log could not be read.'));
  // Log indexes are global: they run on through the frozen shards (inactiveShards) into the active tree.
  const n = (head.inactiveShards ?? []).reduce((sum, s) => sum + s.treeSize, head.treeSize);
  if (n === 0) return show(h('h1', {}, 'Recent entries'), h('p', { class: 'muted' }, 'The log is empty.'));
  const indexes = [];
  for (let i = n - 1; i >= Math.max(0, n - RECENT); i--) indexes.push(i);
  const found = (await postJson('/api/v1/log/entries/retrieve', { logIndexes: indexes })).flatMap(entriesOf);
  found.sort((a, b) => b.logIndex - a.logIndex);
  show(h('h1', {}, 'Recent entries'), h('div', { id: 'recent' }, await entryTable(found)));
}

/** What a query names: an index, an entry ID, a digest, an email or an identity. */
export function classify(q) {
  if (/^(0|[1-9][0-9]{0,15})$/.test(q)) return { kind: 'index', value: Number(q) };
  if (/^[0-9a-fA-F]{80}$/.test(q)) return { kind: 'uuid', value: q.toLowerCase() };
  if (/^[0-9a-fA-F]{64}$/.test(q)) return { kind: 'uuid-or-hash', value: q.toLowerCase() };
  if (/^(sha1|sha256|sha384|sha512):[0-9a-fA-F]+$/.test(q)) return { kind: 'hash', value: q.toLowerCase() };
  if (/^[^\s@/]+@[^\s@/]+$/.test(q)) return { kind: 'email', value: q };
  return { kind: 'subject', value: q };
}

async function search(q) {
  renderTree();
  const c = classify(q);
  try {
    if (c.kind === 'index') return await entryPage({ logIndex: c.value });
    if (c.kind === 'uuid') return await entryPage({ uuid: c.value });
    if (c.kind === 'uuid-or-hash') {
      try {
        return await entryPage({ uuid: c.value });
      } catch (e) {
        if (e.status !== 404) throw e;
        return await indexSearch(q, { hash: `sha256:${c.value}` });
      }
    }
    const key = c.kind === 'hash' ? 'hash' : c.kind === 'email' ? 'email' : 'subject';
    return await indexSearch(q, { [key]: c.value });
  } catch (e) {
    show(h('h1', {}, `Search: ${q}`), h('p', { class: 'error', id: 'search-error' }, e.message));
  }
}

async function indexSearch(q, query) {
  const what = Object.keys(query)[0];
  const uuids = await postJson('/api/v1/index/retrieve', query);
  const head = [h('h1', {}, `Search by ${what}: `, h('span', { class: 'mono wrap' }, q))];
  if (uuids.length === 0) {
    const hint =
      what === 'hash'
        ? 'An image signature logs the digest of its signed payload (the simple-signing JSON), not the image digest; attestations index the image digest too.'
        : 'Identities are indexed as written in the certificate (URI or email SAN), case-insensitively.';
    return show(...head, h('p', { id: 'no-results' }, 'No entries.'), h('p', { class: 'muted' }, hint));
  }
  const shown = uuids.slice(0, MAX_RESULTS);
  const entries = [];
  for (let i = 0; i < shown.length; i += 10) {
    const part = await postJson('/api/v1/log/entries/retrieve', { entryUUIDs: shown.slice(i, i + 10) });
    entries.push(...part.flatMap(entriesOf));
  }
  entries.sort((a, b) => b.logIndex - a.logIndex);
  show(
    ...head,
    h('p', { class: 'muted', id: 'result-count' }, `${uuids.length} entr${uuids.length === 1 ? 'y' : 'ies'}${uuids.length > MAX_RESULTS ? `, the first ${MAX_RESULTS} shown` : ''}`),
    h('div', { id: 'results' }, await entryTable(entries)),
  );
}

/** The head an entry is proven against: the active tree's, or the final one of the frozen shard its ID names. */
function headOfTree(entry, latest) {
  const prefix = entry.uuid.length === 80 ? entry.uuid.slice(0, 16) : '';
  const shard = (latest.inactiveShards ?? []).find((s) => BigInt(s.treeID).toString(16).padStart(16, '0') === prefix);
  if (!shard) return latest;
  const origin = shard.signedTreeHead.split('\n')[0];
  return { ...shard, name: origin.split(' - ')[0], origin };
}

/** Fetches the entry and its tree's latest head until the entry's proof is for that head (the log may grow meanwhile). */
async function entryWithLatest(ref) {
  for (let attempt = 0; ; attempt++) {
    const map = ref.uuid ? await api(`/api/v1/log/entries/${ref.uuid}`) : await api(`/api/v1/log/entries?logIndex=${ref.logIndex}`);
    const entry = entriesOf(map)[0];
    const head = headOfTree(entry, await latestHead());
    if (entry.verification?.inclusionProof?.treeSize === head.treeSize || attempt === 2) return { entry, head };
  }
}

function rows(pairs) {
  return h(
    'table',
    {},
    h('tbody', {}, pairs.filter(([, v]) => v !== undefined && v !== '').map(([k, v, cls]) => h('tr', {}, h('th', {}, k), h('td', { class: cls ?? 'wrap' }, v)))),
  );
}

const CHECK_TITLES = {
  leaf: 'Entry ID matches the body (RFC 6962 leaf hash)',
  checkpoint: 'Latest checkpoint signed by the log',
  inclusion: 'Inclusion proof leads to the checkpoint root',
  set: 'Signed entry timestamp (SET)',
};

function certificateSection(cert, integratedTime) {
  const at = integratedTime * 1000;
  const validAtLog = Date.parse(cert.notBefore) <= at && at <= Date.parse(cert.notAfter);
  const fulcio = Object.entries(cert.fulcio).map(([k, v]) => [k, v, 'mono wrap']);
  return h(
    'div',
    { class: 'certificate' },
    h('h3', {}, 'Fields'),
    rows([
      ['Identity (SAN)', h('span', { id: 'cert-identity' }, cert.identity ?? '(none)')],
      ['OIDC issuer', h('span', { id: 'cert-issuer' }, cert.oidcIssuer ?? '(none)')],
      [
        'Validity',
        h(
          'span',
          { id: 'cert-validity' },
          `${cert.notBefore} → ${cert.notAfter} (${cert.validityMinutes} min); `,
          h('b', { 'data-valid-at-log': validAtLog }, validAtLog ? 'valid at the integrated time' : 'NOT valid at the integrated time'),
        ),
      ],
      ['Certificate issuer', cert.issuer],
      ['Subject', cert.subject || '(empty)'],
      ['Serial', cert.serial, 'mono wrap'],
      ['Public key', cert.publicKey],
      ['Key usage', cert.extKeyUsage.join(', ')],
      ['Embedded SCTs', cert.embeddedScts ? 'yes (certificate transparency)' : 'no'],
      ['Extensions', cert.extensions.map((e) => `${e.name}${e.critical ? ' (critical)' : ''}`).join(', ')],
    ]),
    fulcio.length ? h('h3', {}, 'Fulcio extensions (OID 1.3.6.1.4.1.57264.1.*)') : null,
    fulcio.length ? rows(fulcio) : null,
  );
}

async function entryPage(ref) {
  const [{ entry, head }, key] = await Promise.all([entryWithLatest(ref), logKey()]);
  const body = decodeBody(entry);
  const checks = await checkEntry(entry, { note: head.signedTreeHead, name: head.name, logKey: key });
  const pems = body ? verifierPems(body) : [];
  const certs = pems[0] ? await decodeCertificates(pems[0]).catch((e) => [{ error: e.message }]) : [];
  const proof = entry.verification.inclusionProof;
  const allOk = checks.every((c) => c.ok);

  show(
    h('h1', {}, 'Entry ', h('span', { id: 'entry-index' }, entry.logIndex)),
    rows([
      ['Entry ID', h('span', { id: 'entry-uuid' }, entry.uuid), 'mono wrap'],
      ['Log index', entry.logIndex],
      ['Integrated time', h('span', { id: 'entry-time', 'data-seconds': entry.integratedTime }, `${time(entry.integratedTime)} (${entry.integratedTime})`)],
      ['Kind', body ? `${body.kind} ${body.apiVersion}` : 'undecodable body'],
      ['Logged digest', bodyDigest(body), 'mono wrap'],
      ['Log ID', entry.logID, 'mono wrap'],
    ]),
    h('h2', {}, 'Verified in this browser'),
    h(
      'div',
      { id: 'checks', 'data-status': allOk ? 'pass' : 'fail' },
      checks.map((c) =>
        h(
          'div',
          { class: 'check', 'data-check': c.id, 'data-status': c.ok ? 'pass' : 'fail' },
          h('span', { class: 'badge' }, c.ok ? '✔ pass' : '✘ FAIL'),
          h('span', {}, CHECK_TITLES[c.id] ?? c.id, h('br'), h('span', { class: 'detail' }, c.detail)),
        ),
      ),
    ),
    h('h2', {}, 'Certificate'),
    certs.length === 0
      ? h('p', { class: 'muted' }, pems.length ? 'Signed with a bare public key (no certificate).' : 'No key material in the body.')
      : certs[0].error
        ? h('p', { class: 'error' }, certs[0].error)
        : certificateSection(certs[0], entry.integratedTime),
    certs.length > 1 ? h('p', { class: 'muted' }, `+ ${certs.length - 1} chain certificate(s) in the entry.`) : null,
    h('h2', {}, 'Decoded body'),
    h('pre', { id: 'entry-body' }, body ? JSON.stringify(body, null, 2) : entry.body),
    pems[0] ? h('details', {}, h('summary', {}, 'Key material (PEM)'), h('pre', {}, pems.join('\n'))) : null,
    h('h2', {}, 'Inclusion proof'),
    rows([
      ['Tree size', proof.treeSize],
      ['Root hash', proof.rootHash, 'mono wrap'],
      ['Hashes', h('div', { class: 'mono wrap' }, proof.hashes.map((x) => h('div', {}, x)))],
    ]),
    h('h2', {}, 'Checkpoint (latest)'),
    h('pre', { id: 'checkpoint' }, head.signedTreeHead),
  );
}

async function route() {
  const hash = decodeURIComponent(location.hash.replace(/^#/, ''));
  const [, page, ...rest] = hash.split('/');
  const arg = rest.join('/');
  try {
    if (page === 'entry' && arg) {
      renderTree();
      await entryPage(/^\d+$/.test(arg) ? { logIndex: Number(arg) } : { uuid: arg });
    } else if (page === 'search' && arg) {
      document.getElementById('q').value = arg;
      await search(arg);
    } else {
      await home();
    }
  } catch (e) {
    show(h('p', { class: 'error', id: 'page-error' }, e.message));
  }
  document.body.dataset.ready = 'true';
}

document.getElementById('search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const q = document.getElementById('q').value.trim();
  if (q) location.hash = `#/search/${encodeURIComponent(q)}`;
});

document.getElementById('file').addEventListener('change', (ev) => {
  const file = ev.target.files?.[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = async () => {
    const digest = `sha256:${toHex(await sha256(new Uint8Array(reader.result)))}`;
    document.getElementById('q').value = digest;
    location.hash = `#/search/${encodeURIComponent(digest)}`;
  };
  reader.readAsArrayBuffer(file);
});

window.addEventListener('hashchange', () => {
  document.body.dataset.ready = 'false';
  route();
});
route();
