import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SigilError } from '../errors/index.js';
import { pemBlocks } from '../crypto/index.js';
import { parseCertificate, sanValues, type ParsedCertificate } from '../x509/parse.js';
import { CT, FULCIO } from '../x509/oids.js';

/** The explorer's files in web/, served as-is (no build step). */
const WEB_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'explorer.js': 'text/javascript; charset=utf-8',
  'verify.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};
const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
/** Everything the page loads comes from this server; nothing inline, nothing framed. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** A leaf certificate plus its chain as PEM stays far below this. */
const MAX_CERTIFICATE_PEM = 64 * 1024;
const MAX_CERTIFICATES = 10;

const OID_NAMES = new Map<string, string>([
  ...Object.entries(FULCIO).map(([name, oid]) => [oid, name] as [string, string]),
  [CT.sctList, 'signedCertificateTimestampList'],
  [CT.poison, 'precertificatePoison'],
  ['2.5.29.14', 'subjectKeyIdentifier'],
  ['2.5.29.15', 'keyUsage'],
  ['2.5.29.17', 'subjectAltName'],
  ['2.5.29.19', 'basicConstraints'],
  ['2.5.29.35', 'authorityKeyIdentifier'],
  ['2.5.29.37', 'extKeyUsage'],
]);

/** What the explorer shows of one certificate (JSON, all strings). */
export interface CertificateView {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  validityMinutes: number;
  publicKey: string;
  sans: { type: string; value: string }[];
  identity: string | undefined;
  oidcIssuer: string | undefined;
  isCa: boolean;
  extKeyUsage: string[];
  fulcio: Record<string, string>;
  extensions: { oid: string; name: string; critical: boolean }[];
  embeddedScts: boolean;
}

function keyDescription(c: ParsedCertificate): string {
  const d = c.publicKey.asymmetricKeyDetails;
  if (c.publicKey.asymmetricKeyType === 'ec') return `ECDSA ${d?.namedCurve ?? ''}`.trim();
  if (c.publicKey.asymmetricKeyType === 'rsa') return `RSA ${d?.modulusLength ?? ''}`.trim();
  return c.publicKey.asymmetricKeyType ?? 'unknown';
}

/** Pure: the fields a person reads in a certificate, Fulcio extensions decoded. */
export function certificateView(c: ParsedCertificate): CertificateView {
  const sans = c.subjectAlternativeNames.map((n) => ({ type: n.type, value: n.value }));
  return {
    subject: (c.x509.subject ?? '').replace(/\n/g, ', '),
    issuer: (c.x509.issuer ?? '').replace(/\n/g, ', '),
    serial: c.serialHex,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    validityMinutes: Math.round((c.notAfter.getTime() - c.notBefore.getTime()) / 60_000),
    publicKey: keyDescription(c),
    sans,
    identity: sanValues(c)[0],
    oidcIssuer: c.oidcIssuer,
    isCa: c.basicConstraints?.ca === true,
    extKeyUsage: [...(c.extKeyUsage ?? [])].map((o) => (o === '1.3.6.1.5.5.7.3.3' ? 'codeSigning' : o)),
    fulcio: { ...c.fulcio } as Record<string, string>,
    extensions: c.extensions.map((e) => ({
      oid: e.oid,
      name: OID_NAMES.get(e.oid) ?? e.oid,
      critical: e.critical,
    })),
    embeddedScts: c.sctList !== undefined,
  };
}

/** Pure: decodes every CERTIFICATE block of a PEM text (leaf first); INVALID_INPUT / INVALID_CERTIFICATE otherwise. */
export function decodeCertificatePem(pem: unknown): CertificateView[] {
  if (typeof pem !== 'string' || pem.length === 0 || pem.length > MAX_CERTIFICATE_PEM) {
    throw new SigilError(
      'INVALID_INPUT',
      `pem must be a PEM text of at most ${MAX_CERTIFICATE_PEM} characters`,
    );
  }
  const blocks = pemBlocks(pem).filter((b) => b.type === 'CERTIFICATE');
  if (blocks.length === 0) throw new SigilError('INVALID_INPUT', 'pem holds no CERTIFICATE block');
  if (blocks.length > MAX_CERTIFICATES)
    throw new SigilError('INVALID_INPUT', `pem holds more than ${MAX_CERTIFICATES} certificates`);
  return blocks.map((b) => {
    const parsed = parseCertificate(b.der);
    try {
      return certificateView(parsed);
    } catch (e) {
      throw new SigilError('INVALID_CERTIFICATE', 'certificate fields do not decode', { cause: e });
    }
  });
}

export interface ExplorerOptions {
  /** Directory holding the page's files (default: the repository's web/). */
  webDir?: string;
}

/**
 * The log explorer: the page at `/` (and its modules under `/explorer/`), plus one helper
 * endpoint, `POST /explorer/api/certificate {pem}` → decoded certificates. Everything else the
 * page needs it reads from the Rekor v1 API and checks in the browser.
 */
export async function explorerPlugin(app: FastifyInstance, opts: ExplorerOptions = {}): Promise<void> {
  const dir = opts.webDir ?? DEFAULT_WEB_DIR;
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [name, type] of Object.entries(WEB_FILES))
    files.set(name, { body: readFileSync(join(dir, name)), type });

  const send = (name: string) => async (_req: unknown, reply: FastifyReply) => {
    const f = files.get(name)!;
    return reply
      .header('content-type', f.type)
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(f.body);
  };
  app.get('/', send('index.html'));
  for (const name of files.keys()) if (name !== 'index.html') app.get(`/explorer/${name}`, send(name));

  app.post('/explorer/api/certificate', async (req) => {
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new SigilError('INVALID_INPUT', 'body must be a JSON object {"pem": "..."}');
    }
    return { certificates: decodeCertificatePem((body as Record<string, unknown>).pem) };
  });
}

export default explorerPlugin;
