import { writeFileSync } from 'node:fs';
import { SigilError } from '../errors/index.js';
import { serializeBundle } from '../bundle/index.js';
import { FieldReader, parseJsonInput, type Json } from '../bundle/protojson.js';
import { createSigning, stackDefaults } from '../sign/index.js';
import type { SignArgs } from './args.js';
import { readArg } from './verify.js';
import {
  parseSigningConfig,
  SIGNING_CONFIG_MEDIA_TYPE,
  type SigningConfig,
} from '../signing-config/config.js';
import { chooseServices } from '../signing-config/resolve.js';

const SIGNING_CONFIG_MEDIA_TYPES = [
  'application/vnd.dev.sigstore.signingconfig.v0.2+json',
  'application/vnd.dev.sigstore.signingconfig.v0.1+json',
];

/** A Service of a SigningConfig v0.2 (url, majorApiVersion) or a v0.1 bare URL string. */
function serviceUrls(r: FieldReader, v: unknown, api: number | undefined): string[] {
  return r.array(v, 64).flatMap((s, i) => {
    if (typeof s === 'string') return [s];
    const o = r.at(i).object(s);
    const major = o.majorApiVersion === undefined ? 1 : Number(o.majorApiVersion);
    if (api !== undefined && major !== api) return [];
    return [r.at(i).at('url').string(o.url, 2048)];
  });
}

/**
 * Just the URLs conformance signing needs from a SigningConfig (v0.1 or v0.2): the CA and a
 * Rekor v1 log. A v0.2 config's logs (v1 or v2) and TSAs are chosen by chooseServices instead.
 */
export function readSigningConfigUrls(text: Buffer): { caUrl: string; logUrl: string } {
  const r = new FieldReader('INVALID_INPUT', 'signingConfig');
  const doc: Json = r.object(parseJsonInput(text, 'INVALID_JSON', 'signing config', 1024 * 1024));
  const mediaType = r.at('mediaType').string(doc.mediaType, 256);
  if (!SIGNING_CONFIG_MEDIA_TYPES.includes(mediaType))
    r.at('mediaType').fail(`unsupported signing config media type ${JSON.stringify(mediaType)}`);
  const ca = [
    ...serviceUrls(r.at('caUrls'), doc.caUrls, 1),
    ...(typeof doc.caUrl === 'string' ? [doc.caUrl] : []),
  ];
  const logs = [
    ...serviceUrls(r.at('rekorTlogUrls'), doc.rekorTlogUrls, 1),
    ...serviceUrls(r.at('tlogUrls'), doc.tlogUrls, undefined),
  ];
  if (ca.length === 0) r.at('caUrls').fail('names no certificate authority');
  const v2 = serviceUrls(r.at('rekorTlogUrls'), doc.rekorTlogUrls, 2);
  if (logs.length === 0 && v2.length === 0) r.at('rekorTlogUrls').fail('names no Rekor log');
  return { caUrl: ca[0]!, logUrl: logs[0] ?? v2[0]! };
}

/** Conformance configs may leave the selectors out (e.g. a single log): take ANY then. */
function withDefaultSelectors(c: SigningConfig): SigningConfig {
  return {
    ...c,
    rekorTlogConfig: c.rekorTlogConfig ?? { selector: 'ANY' },
    tsaConfig: c.tsaConfig ?? { selector: 'ANY' },
  };
}

/** `sign-bundle`: keyless signing with the given token against the configured (or local) stack. */
export async function conformanceSign(args: SignArgs): Promise<void> {
  if (args.staging && args.signingConfig === undefined)
    throw new SigilError('INVALID_INPUT', 'sigil has no staging instance: pass --signing-config');
  const configText =
    args.signingConfig !== undefined ? readArg(args.signingConfig, 'signing config', 1024 * 1024) : undefined;
  const urls = configText
    ? readSigningConfigUrls(configText)
    : (({ caUrl, logUrl }) => ({ caUrl, logUrl }))(stackDefaults(process.env));
  // Logs (v1 or v2, the highest API version listed) and TSAs of a v0.2 config, chosen as sigstore-go does.
  const chosen =
    configText &&
    (JSON.parse(configText.toString()) as { mediaType?: unknown }).mediaType === SIGNING_CONFIG_MEDIA_TYPE
      ? chooseServices(withDefaultSelectors(parseSigningConfig(configText)), { caUrl: urls.caUrl })
      : undefined;
  const tsaUrls = chosen?.tsaUrls ?? [];
  const [logUrl, ...extraLogUrls] = chosen && chosen.logUrls.length > 0 ? chosen.logUrls : [urls.logUrl];
  const data = readArg(args.file, 'artifact', 1024 * 1024 * 1024);
  const { builder } = createSigning({
    key: { kind: 'keyless', caUrl: urls.caUrl, tokens: { token: args.identityToken, env: {} } },
    logUrl,
    ...(extraLogUrls.length > 0 ? { extraLogUrls } : {}),
    ...(chosen && chosen.rekorV2Urls.length > 0 ? { rekorV2Urls: chosen.rekorV2Urls } : {}),
    ...(tsaUrls.length > 0 ? { tsaUrls } : {}),
  });
  const signed = args.inToto
    ? await builder.dsse('application/vnd.in-toto+json', data)
    : await builder.message(data);
  try {
    writeFileSync(args.bundle, serializeBundle(signed.bundle));
  } catch (e) {
    throw new SigilError(
      'INVALID_INPUT',
      `cannot write bundle ${args.bundle}: ${(e as NodeJS.ErrnoException).code}`,
    );
  }
}
