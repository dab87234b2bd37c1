import { SigilError } from '../errors/index.js';

/*
 * SigningConfig v0.2 (protobuf-specs sigstore_trustroot.proto): the service URLs a client signs
 * with. Written by `sigil up` and `sigil signing-config`; read by the signing commands.
 */

export const SIGNING_CONFIG_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';
export const SIGNING_CONFIG_LIMITS = { maxBytes: 256 * 1024, maxServices: 32, maxUrlLength: 2048 } as const;

export type Selector = 'ALL' | 'ANY' | 'EXACT';

export interface Service {
  url: string;
  majorApiVersion: number;
  validFor: { start?: Date; end?: Date };
  operator: string;
}

export interface ServiceConfiguration {
  selector: Selector;
  count?: number;
}

export interface SigningConfig {
  caUrls: Service[];
  oidcUrls: Service[];
  rekorTlogUrls: Service[];
  /** Absent in the file: selecting from a non-empty list then fails (as sigstore-go). */
  rekorTlogConfig?: ServiceConfiguration;
  tsaUrls: Service[];
  tsaConfig?: ServiceConfiguration;
}

const fail = (field: string, message: string): never => {
  throw new SigilError('INVALID_INPUT', `signingConfig.${field} ${message}`);
};

function asObject(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(field, 'must be an object');
  return v as Record<string, unknown>;
}

function timestamp(v: unknown, field: string): Date | undefined {
  if (v === undefined || v === null) return undefined;
  const d = typeof v === 'string' && v.length <= 64 ? new Date(v) : new Date(NaN);
  if (Number.isNaN(d.getTime())) fail(field, 'must be an RFC 3339 timestamp');
  return d;
}

function parseService(v: unknown, field: string): Service {
  const o = asObject(v, field);
  const url = o.url;
  if (
    typeof url !== 'string' ||
    url.length > SIGNING_CONFIG_LIMITS.maxUrlLength ||
    !/^https?:\/\/./.test(url)
  )
    fail(`${field}.url`, 'must be an http(s) URL');
  const version = o.majorApiVersion;
  if (!Number.isInteger(version) || (version as number) < 0 || (version as number) > 0xffff_ffff)
    fail(`${field}.majorApiVersion`, 'must be an unsigned integer');
  const validFor = asObject(o.validFor ?? {}, `${field}.validFor`);
  const start = timestamp(validFor.start, `${field}.validFor.start`);
  const end = timestamp(validFor.end, `${field}.validFor.end`);
  if (start && end && end < start) fail(`${field}.validFor`, 'ends before it starts');
  const operator = o.operator ?? '';
  if (typeof operator !== 'string' || operator.length > 256) fail(`${field}.operator`, 'must be a string');
  return {
    url: url as string,
    majorApiVersion: version as number,
    validFor: { ...(start ? { start } : {}), ...(end ? { end } : {}) },
    operator: operator as string,
  };
}

function parseServices(v: unknown, field: string): Service[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return fail(field, 'must be an array');
  if (v.length > SIGNING_CONFIG_LIMITS.maxServices)
    fail(field, `lists more than ${SIGNING_CONFIG_LIMITS.maxServices} services`);
  return v.map((s, i) => parseService(s, `${field}[${i}]`));
}

function parseServiceConfiguration(v: unknown, field: string): ServiceConfiguration | undefined {
  if (v === undefined || v === null) return undefined;
  const o = asObject(v, field);
  const selector = o.selector;
  if (selector !== 'ALL' && selector !== 'ANY' && selector !== 'EXACT')
    return fail(`${field}.selector`, 'must be ALL, ANY or EXACT');
  if (selector !== 'EXACT') return { selector };
  const count = o.count;
  if (
    !Number.isInteger(count) ||
    (count as number) < 1 ||
    (count as number) > SIGNING_CONFIG_LIMITS.maxServices
  )
    fail(`${field}.count`, 'must be a positive integer with selector EXACT');
  return { selector, count: count as number };
}

/** Parses signing_config.json (v0.2). Throws INVALID_INPUT naming the field. */
export function parseSigningConfig(input: string | Buffer): SigningConfig {
  if (input.length > SIGNING_CONFIG_LIMITS.maxBytes)
    throw new SigilError('TOO_LARGE', `signing config larger than ${SIGNING_CONFIG_LIMITS.maxBytes} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(input.toString());
  } catch {
    throw new SigilError('INVALID_JSON', 'signing config is not JSON');
  }
  const doc = asObject(json, '');
  if (doc.mediaType !== SIGNING_CONFIG_MEDIA_TYPE) fail('mediaType', `must be ${SIGNING_CONFIG_MEDIA_TYPE}`);
  const rekorTlogConfig = parseServiceConfiguration(doc.rekorTlogConfig, 'rekorTlogConfig');
  const tsaConfig = parseServiceConfiguration(doc.tsaConfig, 'tsaConfig');
  return {
    caUrls: parseServices(doc.caUrls, 'caUrls'),
    oidcUrls: parseServices(doc.oidcUrls, 'oidcUrls'),
    rekorTlogUrls: parseServices(doc.rekorTlogUrls, 'rekorTlogUrls'),
    ...(rekorTlogConfig ? { rekorTlogConfig } : {}),
    tsaUrls: parseServices(doc.tsaUrls, 'tsaUrls'),
    ...(tsaConfig ? { tsaConfig } : {}),
  };
}

function serviceToJson(s: Service): Record<string, unknown> {
  return {
    url: s.url,
    majorApiVersion: s.majorApiVersion,
    validFor: {
      ...(s.validFor.start ? { start: s.validFor.start.toISOString() } : {}),
      ...(s.validFor.end ? { end: s.validFor.end.toISOString() } : {}),
    },
    operator: s.operator,
  };
}

const configToJson = (c: ServiceConfiguration | undefined): Record<string, unknown> | undefined =>
  c === undefined
    ? undefined
    : c.selector === 'EXACT'
      ? { selector: c.selector, count: c.count }
      : { selector: c.selector };

/** signing_config.json as protobuf-JSON (services in the order given: newest first). */
export function signingConfigToJson(c: SigningConfig): Record<string, unknown> {
  return {
    mediaType: SIGNING_CONFIG_MEDIA_TYPE,
    caUrls: c.caUrls.map(serviceToJson),
    oidcUrls: c.oidcUrls.map(serviceToJson),
    rekorTlogUrls: c.rekorTlogUrls.map(serviceToJson),
    rekorTlogConfig: configToJson(c.rekorTlogConfig),
    tsaUrls: c.tsaUrls.map(serviceToJson),
    tsaConfig: configToJson(c.tsaConfig),
  };
}

export interface SigningConfigInput {
  caUrl?: string;
  oidcUrl?: string;
  /** Rekor v1 logs (base URLs). */
  rekorUrls?: readonly string[];
  /** Rekor v2 logs (base URLs); listed with majorApiVersion 2. */
  rekorV2Urls?: readonly string[];
  /** Full timestamp URLs. */
  tsaUrls?: readonly string[];
  operator?: string;
  validFrom: Date;
  rekorSelector?: ServiceConfiguration;
  tsaSelector?: ServiceConfiguration;
}

/** One operator's services, all valid from validFrom with no end (as `cosign signing-config create`). */
export function buildSigningConfig(input: SigningConfigInput): SigningConfig {
  const operator = input.operator ?? 'sigil';
  const svc = (url: string, majorApiVersion: number): Service => ({
    url: url.replace(/\/+$/, ''),
    majorApiVersion,
    validFor: { start: input.validFrom },
    operator,
  });
  return {
    caUrls: input.caUrl ? [svc(input.caUrl, 1)] : [],
    oidcUrls: input.oidcUrl ? [svc(input.oidcUrl, 1)] : [],
    rekorTlogUrls: [
      ...(input.rekorV2Urls ?? []).map((u) => svc(u, 2)),
      ...(input.rekorUrls ?? []).map((u) => svc(u, 1)),
    ],
    rekorTlogConfig: input.rekorSelector ?? { selector: 'ANY' },
    tsaUrls: (input.tsaUrls ?? []).map((u) => svc(u, 1)),
    tsaConfig: input.tsaSelector ?? { selector: 'ANY' },
  };
}
