import { X509Certificate } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import { pemBlocks } from '../crypto/index.js';
import { buildTrustedRoot } from './trusted-root.js';

export const DEFAULT_CLIENT_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface SigningCertInput {
  token: string;
  /** PEM SPKI of the ephemeral key. */
  publicKeyPem: string;
  /** Signature over the token's email (if any) or sub. */
  proofOfPossession: Buffer;
  /** Send the token as `Authorization: Bearer` (sigstore-go style) instead of in the body. */
  tokenInHeader?: boolean;
}

export interface FulcioClient {
  /** POST /api/v2/signingCert → certificate chain PEMs, leaf first. */
  signingCert(input: SigningCertInput): Promise<string[]>;
  /** GET /api/v2/trustBundle → chains (PEMs, intermediate first). */
  trustBundle(): Promise<string[][]>;
  configuration(): Promise<unknown>;
  /** GET /ct/v1/public-key → PEM (sigil's CA only). */
  ctPublicKey(): Promise<string>;
}

/** A small Fulcio v2 client (usable against sigil's CA or a real Fulcio). */
export function createFulcioClient(baseUrl: string, timeoutMs = DEFAULT_CLIENT_TIMEOUT_MS): FulcioClient {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    async signingCert(input) {
      const body: Record<string, unknown> = {
        publicKeyRequest: {
          publicKey: { algorithm: 'ECDSA', content: input.publicKeyPem },
          proofOfPossession: input.proofOfPossession.toString('base64'),
        },
      };
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: 'application/json',
      };
      if (input.tokenInHeader) headers.authorization = `Bearer ${input.token}`;
      else body.credentials = { oidcIdentityToken: input.token };
      const res = (await call(`${base}/api/v2/signingCert`, timeoutMs, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      })) as Record<string, { chain?: { certificates?: unknown } } | undefined>;
      const certs = (res.signedCertificateEmbeddedSct ?? res.signedCertificateDetachedSct)?.chain
        ?.certificates;
      if (!Array.isArray(certs) || certs.length === 0 || !certs.every((c) => typeof c === 'string')) {
        throw new SigilError('UPSTREAM_ERROR', 'CA answer has no certificate chain');
      }
      return certs as string[];
    },
    async trustBundle() {
      const res = (await call(`${base}/api/v2/trustBundle`, timeoutMs)) as {
        chains?: { certificates?: string[] }[];
      };
      const chains = (res.chains ?? []).map((c) => c.certificates ?? []).filter((c) => c.length > 0);
      if (chains.length === 0) throw new SigilError('UPSTREAM_ERROR', 'CA trust bundle is empty');
      return chains;
    },
    configuration: () => call(`${base}/api/v2/configuration`, timeoutMs),
    ctPublicKey: () => callText(`${base}/ct/v1/public-key`, timeoutMs),
  };
}

/**
 * Fetches what a trusted root needs (CA chain, CT key, transparency-log key from
 * `<log>/api/v1/log/publicKey`) and builds trusted_root.json. Key validity starts at the CA
 * anchor's notBefore (the services of one stack are created together) unless given.
 */
export async function fetchTrustedRoot(opts: {
  caUrl: string;
  logUrl: string;
  ctUrl?: string;
  /** Timestamp authorities (full timestamp URLs; each chain is read from URL/certchain). */
  tsaUrls?: readonly string[];
  validFrom?: Date;
  timeoutMs?: number;
  /** Logs whose keys the caller holds (a Rekor v2 log serves none: its key travels in the trusted root). */
  extraTlogs?: readonly { baseUrl: string; publicKeyDer: Buffer }[];
}): Promise<Record<string, unknown>> {
  const timeout = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
  const ca = createFulcioClient(opts.caUrl, timeout);
  const [chain] = await ca.trustBundle();
  const chainDer = (chain ?? []).map((pem) => pemDer(pem, 'CERTIFICATE'));
  const ctKey = pemDer(await ca.ctPublicKey(), 'PUBLIC KEY');
  const logUrl = opts.logUrl.replace(/\/+$/, '');
  const logKey = pemDer(await callText(`${logUrl}/api/v1/log/publicKey`, timeout), 'PUBLIC KEY');
  const anchor = new X509Certificate(chainDer[chainDer.length - 1]!);
  const validFrom = opts.validFrom ?? new Date(anchor.validFrom);
  const tsas = await Promise.all(
    (opts.tsaUrls ?? []).map(async (u) => {
      const uri = u.replace(/\/+$/, '');
      const pem = await callText(`${uri}/certchain`, timeout);
      const chainDer = pemBlocks(pem)
        .filter((b) => b.type === 'CERTIFICATE')
        .map((b) => b.der);
      if (chainDer.length === 0)
        throw new SigilError('UPSTREAM_ERROR', `${uri}/certchain holds no certificate`);
      return { uri, chainDer };
    }),
  );
  return buildTrustedRoot({
    tsas,
    ca: { uri: opts.caUrl.replace(/\/+$/, ''), chainDer, validFrom },
    tlogs: [
      { baseUrl: logUrl, publicKeyDer: logKey, validFrom },
      ...(opts.extraTlogs ?? []).map((l) => ({ ...l, validFrom })),
    ],
    ctlogs: [
      {
        baseUrl: (opts.ctUrl ?? `${opts.caUrl.replace(/\/+$/, '')}/ct`).replace(/\/+$/, ''),
        publicKeyDer: ctKey,
        validFrom,
      },
    ],
  });
}

function pemDer(pem: string, type: string): Buffer {
  const block = pemBlocks(pem).find((b) => b.type === type);
  if (!block) throw new SigilError('UPSTREAM_ERROR', `expected a ${type} PEM block`);
  return block.der;
}

async function fetchBounded(
  url: string,
  timeoutMs: number,
  init?: RequestInit,
): Promise<{ status: number; text: string }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (e) {
    throw new SigilError('UPSTREAM_ERROR', `cannot reach ${url}`, { cause: e });
  }
  const text = await res.text();
  if (text.length > MAX_RESPONSE_BYTES) throw new SigilError('UPSTREAM_ERROR', `${url}: answer too large`);
  return { status: res.status, text };
}

async function callText(url: string, timeoutMs: number, init?: RequestInit): Promise<string> {
  const { status, text } = await fetchBounded(url, timeoutMs, init);
  if (status < 200 || status > 299)
    throw new SigilError('UPSTREAM_ERROR', `${url} answered ${status}: ${errorMessage(text)}`);
  return text;
}

async function call(url: string, timeoutMs: number, init?: RequestInit): Promise<unknown> {
  const text = await callText(url, timeoutMs, init);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new SigilError('UPSTREAM_ERROR', `${url} did not answer JSON`, { cause: e });
  }
}

function errorMessage(text: string): string {
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof m === 'string') return m.slice(0, 300);
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}
