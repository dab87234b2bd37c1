import { FieldReader, formatTimestamp, parseJsonInput, type Json } from './protojson.js';
import {
  TRUSTED_ROOT_MEDIA_TYPES,
  type CertificateAuthorityInfo,
  type HashAlgorithm,
  type TransparencyLogInstance,
  type TrustedRoot,
  type ValidityPeriod,
} from './types.js';

export const TRUSTED_ROOT_LIMITS = {
  maxBytes: 4 * 1024 * 1024,
  maxInstances: 64,
  maxChainCertificates: 11,
} as const;

/** Parses trusted_root.json (all three media-type spellings). Throws INVALID_INPUT naming the field. */
export function parseTrustedRoot(input: unknown): TrustedRoot {
  const json = parseJsonInput(input, 'INVALID_JSON', 'trusted root', TRUSTED_ROOT_LIMITS.maxBytes);
  const r = new FieldReader('INVALID_INPUT', 'trustedRoot');
  const doc = r.object(json);
  const mediaType = r.at('mediaType').string(doc.mediaType, 256);
  if (!(TRUSTED_ROOT_MEDIA_TYPES as readonly string[]).includes(mediaType)) {
    r.at('mediaType').fail(`unsupported trusted root media type ${JSON.stringify(mediaType)}`);
  }
  const list = <T>(field: string, parse: (r: FieldReader, v: Json) => T): T[] =>
    r
      .at(field)
      .array(doc[field], TRUSTED_ROOT_LIMITS.maxInstances)
      .map((v, i) => parse(r.at(field).at(i), r.at(field).at(i).object(v)));
  return {
    mediaType,
    tlogs: list('tlogs', parseLogInstance),
    certificateAuthorities: list('certificateAuthorities', parseAuthority),
    ctlogs: list('ctlogs', parseLogInstance),
    timestampAuthorities: list('timestampAuthorities', parseAuthority),
  };
}

function parseValidity(r: FieldReader, v: unknown): ValidityPeriod | undefined {
  const o = r.optionalObject(v);
  if (!o) return undefined;
  const out: ValidityPeriod = {};
  if (o.start !== undefined && o.start !== null) out.start = r.at('start').timestamp(o.start);
  if (o.end !== undefined && o.end !== null) out.end = r.at('end').timestamp(o.end);
  if (out.start && out.end && out.end < out.start) r.fail('ends before it starts');
  return out;
}

function parseLogInstance(r: FieldReader, o: Json): TransparencyLogInstance {
  const pk = r.at('publicKey').object(o.publicKey);
  const hashAlgorithm = (r.at('hashAlgorithm').optionalString(o.hashAlgorithm, 32) ??
    'SHA2_256') as HashAlgorithm;
  if (!['SHA2_256', 'SHA2_384', 'SHA2_512'].includes(hashAlgorithm))
    r.at('hashAlgorithm').fail(`unsupported ${hashAlgorithm}`);
  const rawBytes = r.at('publicKey.rawBytes').bytes(pk.rawBytes, 16 * 1024);
  if (rawBytes.length === 0) r.at('publicKey.rawBytes').fail('is empty');
  const out: TransparencyLogInstance = {
    baseUrl: r.at('baseUrl').string(o.baseUrl, 2048),
    hashAlgorithm,
    publicKey: { rawBytes, keyDetails: r.at('publicKey.keyDetails').optionalString(pk.keyDetails, 64) ?? '' },
    logId: r.at('logId.keyId').bytes(r.at('logId').object(o.logId).keyId, 64),
  };
  const validFor = parseValidity(r.at('publicKey.validFor'), pk.validFor);
  if (validFor) out.publicKey.validFor = validFor;
  const cpk = r.at('checkpointKeyId').optionalObject(o.checkpointKeyId);
  if (cpk) out.checkpointKeyId = r.at('checkpointKeyId.keyId').bytes(cpk.keyId, 64);
  const operator = r.at('operator').optionalString(o.operator, 256);
  if (operator !== undefined) out.operator = operator;
  return out;
}

function parseAuthority(r: FieldReader, o: Json): CertificateAuthorityInfo {
  const cr = r.at('certChain.certificates');
  const certChain = cr
    .array(r.at('certChain').object(o.certChain).certificates, TRUSTED_ROOT_LIMITS.maxChainCertificates)
    .map((c, i) =>
      cr
        .at(i)
        .at('rawBytes')
        .bytes(cr.at(i).object(c).rawBytes, 64 * 1024),
    );
  if (certChain.length === 0) cr.fail('must hold at least one certificate');
  const out: CertificateAuthorityInfo = {
    uri: r.at('uri').optionalString(o.uri, 2048) ?? '',
    certChain,
    validFor: parseValidity(r.at('validFor'), o.validFor) ?? {},
  };
  const subject = r.at('subject').optionalObject(o.subject);
  if (subject) {
    out.subject = {};
    const org = r.at('subject.organization').optionalString(subject.organization, 256);
    const cn = r.at('subject.commonName').optionalString(subject.commonName, 256);
    if (org !== undefined) out.subject.organization = org;
    if (cn !== undefined) out.subject.commonName = cn;
  }
  const operator = r.at('operator').optionalString(o.operator, 256);
  if (operator !== undefined) out.operator = operator;
  return out;
}

function validityToJson(v: ValidityPeriod): Json {
  return {
    ...(v.start ? { start: formatTimestamp(v.start) } : {}),
    ...(v.end ? { end: formatTimestamp(v.end) } : {}),
  };
}

function logToJson(l: TransparencyLogInstance): Json {
  return {
    baseUrl: l.baseUrl,
    hashAlgorithm: l.hashAlgorithm,
    publicKey: {
      rawBytes: l.publicKey.rawBytes.toString('base64'),
      keyDetails: l.publicKey.keyDetails,
      ...(l.publicKey.validFor ? { validFor: validityToJson(l.publicKey.validFor) } : {}),
    },
    logId: { keyId: l.logId.toString('base64') },
    ...(l.checkpointKeyId ? { checkpointKeyId: { keyId: l.checkpointKeyId.toString('base64') } } : {}),
    ...(l.operator !== undefined ? { operator: l.operator } : {}),
  };
}

function authorityToJson(a: CertificateAuthorityInfo): Json {
  return {
    ...(a.subject ? { subject: a.subject } : {}),
    uri: a.uri,
    certChain: { certificates: a.certChain.map((c) => ({ rawBytes: c.toString('base64') })) },
    validFor: validityToJson(a.validFor),
    ...(a.operator !== undefined ? { operator: a.operator } : {}),
  };
}

/** trusted_root.json as a protojson object (what `sigil up` writes for clients). */
export function trustedRootToJson(root: TrustedRoot): Json {
  return {
    mediaType: root.mediaType,
    tlogs: root.tlogs.map(logToJson),
    certificateAuthorities: root.certificateAuthorities.map(authorityToJson),
    ctlogs: root.ctlogs.map(logToJson),
    timestampAuthorities: root.timestampAuthorities.map(authorityToJson),
  };
}
