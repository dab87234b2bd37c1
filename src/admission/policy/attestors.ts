import { pemBlocks, toPem } from '../../crypto/index.js';
import { FULCIO } from '../../x509/oids.js';
import {
  type Doc,
  invalid,
  objectAt,
  optArray,
  optBool,
  optInt,
  optObject,
  optString,
  optStringMap,
} from './fields.js';
import { refuseSet, refuseUnknown } from './known-fields.js';
import { compilePolicyRegex } from './regex.js';
import {
  POLICY_LIMITS,
  type AttestorEntry,
  type AttestorSet,
  type CtlogOptions,
  type IdentityMatcher,
  type KeylessAttestor,
  type RekorOptions,
} from './types.js';
import { compileWildcard } from './wildcard.js';

const OID_RE = /^[0-9]+(\.[0-9]+)+$/;
/** A pattern that starts with a literal URI scheme and `//`. */
const URI_RE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

/** Fulcio extension short names (as in Kyverno/cosign) or dotted OIDs → OID. */
export function extensionsToOids(
  ext: Record<string, string> | undefined,
  path: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(ext ?? {})) {
    const oid = OID_RE.test(name) ? name : (FULCIO as Record<string, string>)[name];
    if (!oid) throw invalid(`${path}.${name}`, 'is not a known Fulcio certificate extension');
    out[oid] = value;
  }
  return out;
}

function pemField(d: Doc, key: string, path: string, type: 'CERTIFICATE' | 'PUBLIC KEY'): string | undefined {
  const pem = optString(d, key, path, POLICY_LIMITS.maxPemBytes);
  if (pem === undefined) return undefined;
  const blocks = pemBlocks(pem);
  if (blocks.length === 0 || blocks.some((b) => b.type !== type)) {
    throw invalid(`${path}.${key}`, `must hold one or more PEM "${type}" blocks`);
  }
  return pem;
}

export function parseRekor(d: Doc | undefined, path: string): RekorOptions {
  if (!d) return { ignoreTlog: false };
  refuseUnknown(d, path, ['url', 'pubkey', 'ignoreTlog']);
  const url = optString(d, 'url', path, 2048);
  if (url !== undefined && url.length === 0) throw invalid(`${path}.url`, 'An URL is required');
  const pubkey = pemField(d, 'pubkey', path, 'PUBLIC KEY');
  return { url, pubkey, ignoreTlog: optBool(d, 'ignoreTlog', path) ?? false };
}

export function parseCtlog(d: Doc | undefined, path: string): CtlogOptions {
  if (!d) return { ignoreSCT: false };
  refuseUnknown(d, path, ['pubkey', 'ignoreSCT', 'tsaCertChain']);
  refuseSet(
    d,
    'tsaCertChain',
    path,
    'RFC 3161 timestamps are not evaluated here yet (refused rather than ignored)',
  );
  return {
    pubkey: pemField(d, 'pubkey', path, 'PUBLIC KEY'),
    ignoreSCT: optBool(d, 'ignoreSCT', path) ?? false,
  };
}

/** One identity (`subject`/`subjectRegExp` + `issuer`/`issuerRegExp`); a subject of some kind is required. */
export function parseIdentity(d: Doc, path: string): IdentityMatcher {
  const subject = optString(d, 'subject', path, 4096);
  const subjectRegExp = optString(d, 'subjectRegExp', path, 64 * 1024);
  const issuer = optString(d, 'issuer', path, 4096);
  const issuerRegExp = optString(d, 'issuerRegExp', path, 64 * 1024);
  if (!subject && !subjectRegExp) {
    throw invalid(
      path,
      'an identity is required: set subject or subjectRegExp (an empty identity would admit any signer)',
    );
  }
  if (!issuer && !issuerRegExp) {
    throw invalid(
      path,
      "an issuer is required: set issuer (or issuerRegExp; write issuerRegExp: '.*' to accept any issuer on purpose), else a certificate from any issuer the CA trusts is accepted",
    );
  }
  const uriShaped = [subject, subjectRegExp?.replace(/^\^/, '').replace(/\\\//g, '/')].some(
    (p) => p !== undefined && URI_RE.test(p),
  );
  return {
    ...(uriShaped ? { subjectIsUri: true } : {}),
    ...(subject ? { subject: compileWildcard(subject, `${path}.subject`) } : {}),
    ...(subjectRegExp ? { subjectRegExp: compilePolicyRegex(subjectRegExp, `${path}.subjectRegExp`) } : {}),
    ...(issuer ? { issuer } : {}),
    ...(issuerRegExp ? { issuerRegExp: compilePolicyRegex(issuerRegExp, `${path}.issuerRegExp`) } : {}),
  };
}

export interface ParseContext {
  /** True when a --trusted-root is configured, which can stand in for `roots`/`rekor`. */
  hasTrustedRoot: boolean;
}

function parseKeyless(d: Doc, path: string, ctx: ParseContext): KeylessAttestor {
  refuseUnknown(d, path, [
    'subject',
    'subjectRegExp',
    'issuer',
    'issuerRegExp',
    'roots',
    'additionalExtensions',
    'rekor',
    'ctlog',
  ]);
  const roots = pemField(d, 'roots', path, 'CERTIFICATE');
  const rekor = parseRekor(optObject(d, 'rekor', path), `${path}.rekor`);
  if (!roots && !ctx.hasTrustedRoot) {
    throw invalid(path, 'roots are required (or start the server with --trusted-root)');
  }
  return {
    kind: 'keyless',
    identities: [parseIdentity(d, path)],
    additionalExtensions: extensionsToOids(
      optStringMap(d, 'additionalExtensions', path),
      `${path}.additionalExtensions`,
    ),
    ...(roots ? { roots } : {}),
    rekor,
    ctlog: parseCtlog(optObject(d, 'ctlog', path), `${path}.ctlog`),
  };
}

/** Parses `attestors[]` of a Kyverno verifyImages rule (AttestorSet{count, entries}). */
export function parseAttestorSets(
  list: unknown[],
  path: string,
  ctx: ParseContext,
  depth = 0,
): AttestorSet[] {
  if (list.length > POLICY_LIMITS.maxAttestorSets)
    throw invalid(path, `more than ${POLICY_LIMITS.maxAttestorSets} attestor sets`);
  return list.map((raw, i) => parseAttestorSet(objectAt(raw, `${path}[${i}]`), `${path}[${i}]`, ctx, depth));
}

function parseAttestorSet(d: Doc, path: string, ctx: ParseContext, depth: number): AttestorSet {
  refuseUnknown(d, path, ['count', 'entries']);
  if (depth > POLICY_LIMITS.maxNestingDepth)
    throw invalid(path, `attestors nested deeper than ${POLICY_LIMITS.maxNestingDepth}`);
  const rawEntries = optArray(d, 'entries', path, POLICY_LIMITS.maxEntries) ?? [];
  if (rawEntries.length === 0) throw invalid(`${path}.entries`, 'at least one entry is required');
  const count = optInt(d, 'count', path);
  if (count !== undefined && count !== 0) {
    if (count < 1) throw invalid(`${path}.count`, 'must be at least 1');
    if (count > rawEntries.length) throw invalid(`${path}.count`, 'Count cannot exceed length of entries');
  }
  const entries: AttestorEntry[] = [];
  rawEntries.forEach((raw, j) => {
    const ep = `${path}.entries[${j}]`;
    const e = objectAt(raw, ep);
    refuseUnknown(e, ep, ['keys', 'certificates', 'keyless', 'attestor', 'annotations', 'repository']);
    const kinds = ['keys', 'keyless', 'certificates', 'attestor'].filter(
      (k) => e[k] !== undefined && e[k] !== null,
    );
    if (kinds.length !== 1)
      throw invalid(ep, 'exactly one of keys, certificates, keyless, or a nested attestor is required');
    if (optObject(e, 'annotations', ep))
      throw invalid(`${ep}.annotations`, 'signature annotations are not supported yet');
    if (optString(e, 'repository', ep))
      throw invalid(`${ep}.repository`, 'alternate signature repositories are not supported yet');
    switch (kinds[0]) {
      case 'keyless':
        entries.push({
          index: j,
          attestor: parseKeyless(objectAt(e.keyless, `${ep}.keyless`), `${ep}.keyless`, ctx),
        });
        break;
      case 'keys': {
        const kp = `${ep}.keys`;
        const k = objectAt(e.keys, kp);
        refuseUnknown(k, kp, ['publicKeys', 'kms', 'secret', 'signatureAlgorithm', 'rekor', 'ctlog']);
        const alg = optString(k, 'signatureAlgorithm', kp, 16);
        if (alg !== undefined && alg !== 'sha256')
          throw invalid(`${kp}.signatureAlgorithm`, 'only sha256 is supported');
        if (k.kms !== undefined || k.secret !== undefined)
          throw invalid(kp, 'kms and secret keys are not supported; use publicKeys');
        const pem = optString(k, 'publicKeys', kp, POLICY_LIMITS.maxPemBytes);
        if (!pem) throw invalid(kp, 'publicKeys is required');
        if (pem.startsWith('k8s://'))
          throw invalid(`${kp}.publicKeys`, 'k8s:// secret references are not supported; inline the PEM');
        const blocks = pemBlocks(pem);
        if (blocks.length === 0 || blocks.some((b) => b.type !== 'PUBLIC KEY')) {
          throw invalid(`${kp}.publicKeys`, 'must hold one or more PEM "PUBLIC KEY" blocks');
        }
        const rekor = parseRekor(optObject(k, 'rekor', kp), `${kp}.rekor`);
        const ctlog = parseCtlog(optObject(k, 'ctlog', kp), `${kp}.ctlog`);
        for (const b of blocks) {
          entries.push({
            index: j,
            attestor: { kind: 'keys', publicKey: toPem('PUBLIC KEY', b.der), rekor, ctlog },
          });
        }
        break;
      }
      case 'certificates':
        throw invalid(
          `${ep}.certificates`,
          'certificate attestors are not supported yet; use keyless with roots',
        );
      default: {
        const nested = parseAttestorSet(
          objectAt(e.attestor, `${ep}.attestor`),
          `${ep}.attestor`,
          ctx,
          depth + 1,
        );
        entries.push({ index: j, attestor: { kind: 'attestor', set: nested } });
      }
    }
  });
  return { ...(count ? { count } : {}), entries };
}
