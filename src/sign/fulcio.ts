import { SigilError } from '../errors/index.js';
import { pemBlocks } from '../crypto/index.js';
import { fetchJson } from '../http/index.js';
import { DEFAULT_CA_URL } from './stack.js';

export const FULCIO_TIMEOUT_MS = 30_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface CertificateRequest {
  token: string;
  /** SPKI PEM of the key to certify. */
  publicKeyPem: string;
  /** Signature over the token's email (or sub) with that key. */
  proofOfPossession: Buffer;
}

/** DER certificates from the CA: the leaf first, then intermediates and root. */
export type CertificateChain = Buffer[];

/**
 * A minimal Fulcio v2 client: `POST {base}/api/v2/signingCert`. The token goes in the
 * Authorization header only (as sigstore-go does); it is never logged or echoed in errors.
 */
export class FulcioClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string = DEFAULT_CA_URL,
    private readonly timeoutMs = FULCIO_TIMEOUT_MS,
  ) {
    let u: URL;
    try {
      u = new URL(baseUrl);
    } catch {
      throw new SigilError('INVALID_INPUT', `CA URL ${JSON.stringify(baseUrl)} is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new SigilError('INVALID_INPUT', 'CA URL must be http(s)');
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async signingCertificate(req: CertificateRequest): Promise<CertificateChain> {
    const body = {
      publicKeyRequest: {
        publicKey: { algorithm: 'ECDSA', content: req.publicKeyPem },
        proofOfPossession: req.proofOfPossession.toString('base64'),
      },
    };
    const res = await fetchJson(`${this.baseUrl}/api/v2/signingCert`, {
      timeoutMs: this.timeoutMs,
      maxBytes: MAX_RESPONSE_BYTES,
      what: `the CA at ${this.baseUrl}`,
      unreachable: 'UNAVAILABLE',
      init: {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${req.token}`,
        },
        body: JSON.stringify(body),
      },
    });
    if (res.status !== 200) {
      const m = (res.json as { message?: unknown } | undefined)?.message;
      const msg = typeof m === 'string' ? m.slice(0, 300) : `HTTP ${res.status}`;
      const code = res.status === 401 || res.status === 403 ? 'UNAUTHENTICATED' : 'UPSTREAM_ERROR';
      throw new SigilError(code, `the CA refused the certificate request (${res.status}): ${msg}`);
    }
    return chainOf(res.json);
  }
}

function chainOf(json: unknown): CertificateChain {
  const o = json as Record<string, { chain?: { certificates?: unknown } } | undefined> | undefined;
  const certs = (o?.signedCertificateEmbeddedSct ?? o?.signedCertificateDetachedSct)?.chain?.certificates;
  if (
    !Array.isArray(certs) ||
    certs.length === 0 ||
    certs.length > 12 ||
    !certs.every((c) => typeof c === 'string')
  ) {
    throw new SigilError('UPSTREAM_ERROR', 'the CA answered without a certificate chain');
  }
  const ders = (certs as string[]).flatMap((pem) =>
    pemBlocks(pem)
      .filter((b) => b.type === 'CERTIFICATE')
      .map((b) => b.der),
  );
  if (ders.length === 0) throw new SigilError('UPSTREAM_ERROR', 'the CA chain holds no PEM certificate');
  return ders;
}
