import { pemBlocks } from '../../crypto/index.js';
import { extensionsToOids, parseIdentity, type ParseContext } from '../policy/attestors.js';
import { parseRegistryCredentials } from '../policy/credentials.js';
import {
  type Doc,
  invalid,
  objectAt,
  optArray,
  optBool,
  optObject,
  optString,
  optStringMap,
} from '../policy/fields.js';
import { refuseSet, refuseUnknown } from '../policy/known-fields.js';
import { parseTuf } from './tuf-source.js';
import {
  POLICY_LIMITS,
  type CtlogOptions,
  type RekorOptions,
  type SigningAttestor,
} from '../policy/types.js';
import type { IvpAttestation, IvpAttestor, SignatureSource } from './types.js';

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const NOT_EVALUATED = 'is not evaluated by sigil (refused rather than ignored)';
// Kyverno's bound on user-given chains (CVE-2026-32280): intermediates plus leaf and root.
const MAX_CHAIN_CERTS = 12;
const REPO_RE = /^[a-z0-9.-]+(:[0-9]+)?\/[a-z0-9]+([._/-][a-z0-9]+)*$/;
const TAG_PREFIX_RE = /^[A-Za-z0-9_.-]{0,64}$/;

function pemField(d: Doc, key: string, path: string, type: 'CERTIFICATE' | 'PUBLIC KEY'): string | undefined {
  const pem = optString(d, key, path, POLICY_LIMITS.maxPemBytes);
  if (pem === undefined) return undefined;
  const blocks = pemBlocks(pem);
  if (blocks.length === 0 || blocks.some((b) => b.type !== type))
    throw invalid(`${path}.${key}`, `must hold one or more PEM "${type}" blocks`);
  if (type === 'CERTIFICATE' && blocks.length > MAX_CHAIN_CERTS)
    throw invalid(`${path}.${key}`, `more than ${MAX_CHAIN_CERTS} certificates`);
  return pem;
}

/** A StringOrExpression holding PEM certificates; CEL-computed values are not evaluated. */
function certValue(d: Doc, key: string, path: string): string | undefined {
  const o = optObject(d, key, path);
  if (!o) return undefined;
  const p = `${path}.${key}`;
  refuseUnknown(o, p, ['value', 'expression']);
  refuseSet(o, 'expression', p, `${NOT_EVALUATED}: give the PEM as value`);
  const pem = pemField(o, 'value', p, 'CERTIFICATE');
  if (!pem) throw invalid(`${p}.value`, 'is required');
  return pem;
}

/** `ctlog {url, rekorPubKey, ctLogPubKey, tsaCertChain, insecureIgnoreTlog, insecureIgnoreSCT}`. */
function parseCtlog(c: Doc, cp: string): { rekor: RekorOptions; ctlog: CtlogOptions } {
  const ct = optObject(c, 'ctlog', cp);
  const p = `${cp}.ctlog`;
  if (ct)
    refuseUnknown(ct, p, [
      'url',
      'rekorPubKey',
      'ctLogPubKey',
      'tsaCertChain',
      'insecureIgnoreTlog',
      'insecureIgnoreSCT',
    ]);
  const url = ct ? optString(ct, 'url', p, 2048) : undefined;
  const rekorPub = ct ? pemField(ct, 'rekorPubKey', p, 'PUBLIC KEY') : undefined;
  const ctPub = ct ? pemField(ct, 'ctLogPubKey', p, 'PUBLIC KEY') : undefined;
  const tsa = ct ? pemField(ct, 'tsaCertChain', p, 'CERTIFICATE') : undefined;
  return {
    rekor: {
      ...(url ? { url } : {}),
      ...(rekorPub ? { pubkey: rekorPub } : {}),
      ignoreTlog: (ct && optBool(ct, 'insecureIgnoreTlog', p)) ?? false,
    },
    ctlog: {
      ...(ctPub ? { pubkey: ctPub } : {}),
      ignoreSCT: (ct && optBool(ct, 'insecureIgnoreSCT', p)) ?? false,
      ...(tsa ? { tsaCertChain: tsa } : {}),
    },
  };
}

/** `source {repository, tagPrefix, PullSecrets}` (the JSON name of SignaturePullSecrets is `PullSecrets`). */
function parseSource(c: Doc, cp: string): SignatureSource | undefined {
  const s = optObject(c, 'source', cp);
  if (!s) return undefined;
  const p = `${cp}.source`;
  refuseUnknown(s, p, ['repository', 'tagPrefix', 'PullSecrets']);
  const repository = optString(s, 'repository', p, 512);
  if (repository !== undefined && !REPO_RE.test(repository))
    throw invalid(`${p}.repository`, `"${repository}" is not registry/repository`);
  const tagPrefix = optString(s, 'tagPrefix', p, 64);
  if (tagPrefix !== undefined && !TAG_PREFIX_RE.test(tagPrefix))
    throw invalid(`${p}.tagPrefix`, `"${tagPrefix}" cannot start a tag`);
  // corev1.LocalObjectReference: `{name}`; Kyverno reads them from its own namespace.
  const pullSecrets = (optArray(s, 'PullSecrets', p, 20) ?? []).map((raw, i) => {
    const sp = `${p}.PullSecrets[${i}]`;
    const o = objectAt(raw, sp);
    refuseUnknown(o, sp, ['name']);
    const name = optString(o, 'name', sp, 253);
    if (!name) throw invalid(`${sp}.name`, 'is required');
    if (name.includes('/')) throw invalid(`${sp}.name`, 'a secret name (no namespace) is required');
    return parseRegistryCredentials({ secrets: [name] }, sp).secrets[0]!;
  });
  return {
    ...(repository ? { repository } : {}),
    ...(tagPrefix ? { tagPrefix } : {}),
    pullSecrets,
  };
}

function parseCosign(c: Doc, cp: string, ctx: ParseContext): SigningAttestor {
  refuseUnknown(c, cp, [
    'key',
    'keyless',
    'certificate',
    'source',
    'ctlog',
    'tuf',
    'trustedRoot',
    'annotations',
  ]);
  refuseSet(c, 'trustedRoot', cp, `${NOT_EVALUATED}: use the server trusted root`);
  refuseSet(c, 'annotations', cp, 'signature annotation checks are not supported');
  const { rekor, ctlog } = parseCtlog(c, cp);
  const tufSource = parseTuf(c, cp);
  const tuf = tufSource ? { tuf: tufSource } : {};
  const kinds = ['key', 'keyless', 'certificate'].filter((k) => c[k] !== undefined && c[k] !== null);
  if (kinds.length !== 1) throw invalid(cp, 'exactly one of key, keyless or certificate is required');
  if (kinds[0] === 'key') {
    const kp = `${cp}.key`;
    const key = objectAt(c.key, kp);
    refuseUnknown(key, kp, ['data', 'kms', 'expression', 'hashAlgorithm']);
    const hash = optString(key, 'hashAlgorithm', kp, 16);
    if (hash !== undefined && hash !== 'sha256')
      throw invalid(`${kp}.hashAlgorithm`, 'only sha256 is supported');
    refuseSet(
      key,
      'kms',
      kp,
      'KMS keys are not supported: the webhook calls no cloud KMS API (inline the PEM as data)',
    );
    refuseSet(key, 'expression', kp, `${NOT_EVALUATED}: give the PEM as data`);
    const pem = pemField(key, 'data', kp, 'PUBLIC KEY');
    if (!pem) throw invalid(kp, 'data is required');
    return { kind: 'keys', publicKey: pem, rekor, ctlog, ...tuf };
  }
  if (kinds[0] === 'certificate') {
    const p = `${cp}.certificate`;
    const cert = objectAt(c.certificate, p);
    refuseUnknown(cert, p, ['cert', 'certChain']);
    const pem = certValue(cert, 'cert', p);
    if (!pem) throw invalid(`${p}.cert`, 'is required');
    if (pemBlocks(pem).length !== 1) throw invalid(`${p}.cert.value`, 'must hold exactly one certificate');
    const chain = certValue(cert, 'certChain', p);
    return { kind: 'certificate', certificate: pem, ...(chain ? { chain } : {}), rekor, ctlog, ...tuf };
  }
  const kp = `${cp}.keyless`;
  const k = objectAt(c.keyless, kp);
  refuseUnknown(k, kp, ['identities', 'roots', 'additionalExtensions']);
  const ids = optArray(k, 'identities', kp, 64) ?? [];
  if (ids.length === 0) throw invalid(`${kp}.identities`, 'at least one identity is required');
  const identities = ids.map((id, j) => {
    const idp = `${kp}.identities[${j}]`;
    const o = objectAt(id, idp);
    refuseUnknown(o, idp, ['subject', 'subjectRegExp', 'subjectExpression', 'issuer', 'issuerRegExp']);
    if (o.subjectExpression !== undefined)
      throw invalid(`${idp}.subjectExpression`, 'CEL expressions are not supported');
    return parseIdentity(o, idp);
  });
  const roots = pemField(k, 'roots', kp, 'CERTIFICATE');
  if (!roots && !ctx.hasTrustedRoot && !tufSource)
    throw invalid(kp, 'roots are required (or a tuf repository, or start the server with --trusted-root)');
  return {
    kind: 'keyless',
    identities,
    additionalExtensions: extensionsToOids(
      optStringMap(k, 'additionalExtensions', kp),
      `${kp}.additionalExtensions`,
    ),
    ...(roots ? { roots } : {}),
    rekor,
    ctlog,
    ...tuf,
  };
}

/** `attestors[{name, cosign | notary}]`, by name (notary is refused: sigil verifies cosign signatures only). */
export function parseAttestors(spec: Doc, sp: string, ctx: ParseContext): Map<string, IvpAttestor> {
  const out = new Map<string, IvpAttestor>();
  (optArray(spec, 'attestors', sp, POLICY_LIMITS.maxEntries) ?? []).forEach((raw, i) => {
    const ap = `${sp}.attestors[${i}]`;
    const a = objectAt(raw, ap);
    refuseUnknown(a, ap, ['name', 'cosign', 'notary']);
    if (a.notary !== undefined)
      throw invalid(
        `${ap}.notary`,
        'notary attestors are not supported (sigil verifies cosign signatures only)',
      );
    const name = optString(a, 'name', ap, 253);
    if (!name || !IDENT_RE.test(name)) throw invalid(`${ap}.name`, 'a CEL identifier is required');
    if (out.has(name)) throw invalid(`${ap}.name`, `duplicate attestor "${name}"`);
    const c = optObject(a, 'cosign', ap);
    if (!c) throw invalid(ap, 'cosign is required');
    const source = parseSource(c, `${ap}.cosign`);
    out.set(name, { name, attestor: parseCosign(c, `${ap}.cosign`, ctx), ...(source ? { source } : {}) });
  });
  return out;
}

/** `attestations[{name, intoto{type} | referrer{type}}]`. */
export function parseAttestations(spec: Doc, sp: string): Map<string, IvpAttestation> {
  const out = new Map<string, IvpAttestation>();
  (optArray(spec, 'attestations', sp, 50) ?? []).forEach((raw, i) => {
    const p = `${sp}.attestations[${i}]`;
    const o = objectAt(raw, p);
    refuseUnknown(o, p, ['name', 'intoto', 'referrer']);
    const name = optString(o, 'name', p, 253);
    if (!name || !IDENT_RE.test(name)) throw invalid(`${p}.name`, 'a CEL identifier is required');
    if (out.has(name)) throw invalid(`${p}.name`, `duplicate attestation "${name}"`);
    const kinds = (['intoto', 'referrer'] as const).filter((k) => o[k] !== undefined && o[k] !== null);
    if (kinds.length !== 1) throw invalid(p, 'exactly one of intoto or referrer is required');
    const kind = kinds[0]!;
    const d = objectAt(o[kind], `${p}.${kind}`);
    refuseUnknown(d, `${p}.${kind}`, ['type']);
    const type = optString(d, 'type', `${p}.${kind}`, 1024);
    if (!type) throw invalid(`${p}.${kind}.type`, 'is required');
    out.set(name, { name, kind, type });
  });
  return out;
}
