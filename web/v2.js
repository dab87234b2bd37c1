/* global atob */
// The Rekor v2 explorer: everything comes from the C2SP tlog-tiles read path of this log.
const WIDTH = 256;
const SHOWN = 20;

const text = (el, s) => {
  el.textContent = s;
  return el;
};
const cell = (row, s, cls) => {
  const td = text(document.createElement('td'), s);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
};

/** tlog-tiles index path: 3-digit groups, all but the last prefixed with x. */
function encodeIndex(n) {
  const groups = [];
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

const tilePath = (level, index, width) =>
  `/tile/${level}/${encodeIndex(index)}${width < WIDTH ? `.p/${width}` : ''}`;

async function bytes(path) {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

function splitBundle(b) {
  const out = [];
  for (let at = 0; at + 2 <= b.length; ) {
    const len = (b[at] << 8) | b[at + 1];
    out.push(b.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  return out;
}

const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
const b64hex = (s) => hex(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)));

async function leafHash(entry) {
  const data = new Uint8Array(entry.length + 1);
  data.set(entry, 1);
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}

function describe(entry) {
  const body = JSON.parse(new TextDecoder().decode(entry));
  const spec = body.spec?.hashedRekordV002 ?? body.spec?.dsseV002;
  const sig = spec?.signature ?? spec?.signatures?.[0];
  const digest = spec?.data ?? spec?.payloadHash;
  const verifier = sig?.verifier ?? {};
  return {
    kind: `${body.kind} ${body.apiVersion}`,
    digest: digest ? `${digest.algorithm}:${b64hex(digest.digest)}` : '',
    signer: `${verifier.keyDetails ?? ''} (${verifier.x509Certificate ? 'certificate' : 'public key'})`,
  };
}

async function show() {
  const note = await (await fetch('/checkpoint')).text();
  const [origin, sizeLine, root] = note.split('\n');
  const size = Number(sizeLine);
  const tree = document.getElementById('tree');
  tree.replaceChildren();
  tree.append('origin ', text(document.createElement('b'), origin), ' · tree size ');
  tree.append(text(document.createElement('b'), String(size)), ' · root ', text(document.createElement('code'), root));
  tree.id = 'tree';
  tree.dataset.size = String(size);
  const tbody = document.querySelector('#entries tbody');
  if (size === 0) return;
  const last = Math.floor((size - 1) / WIDTH);
  const width = size - last * WIDTH;
  const entries = splitBundle(await bytes(tilePath('entries', last, width)));
  const hashes = await bytes(tilePath(0, last, width));
  for (let i = entries.length - 1; i >= Math.max(0, entries.length - SHOWN); i--) {
    const index = last * WIDTH + i;
    const row = document.createElement('tr');
    row.dataset.index = String(index);
    const d = describe(entries[i]);
    cell(row, String(index));
    cell(row, d.kind);
    cell(row, d.digest, 'mono');
    cell(row, d.signer);
    const mine = hex(await leafHash(entries[i]));
    const ok = mine === hex(hashes.subarray(i * 32, i * 32 + 32));
    cell(row, ok ? '✔' : '✘ differs from the hash tile', ok ? 'ok' : 'bad');
    tbody.appendChild(row);
  }
}

show().catch((e) => {
  text(document.getElementById('tree'), `cannot read the log: ${e.message}`);
});
