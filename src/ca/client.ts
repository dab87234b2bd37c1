import { X509Certificate } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import { pemBlocks } from '../crypto/index.js';
import { fetchBounded, parseAnswer } from '../http/index.js';
import { buildTrustedRoot } from './trusted-root.js';

export const DEFAULT_CLIENT_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** GET {ca}/api/v2/trustBundle → chains (PEMs, intermediate first). */
async function trustBundle(base: string, timeoutMs: number): Promise<string[][]> {
  const res = (await call(`${base}/api/v2/trustBundle`, timeoutMs)) as {
    chains?: { certificates?: unknown }[];
  };
  const chains = (Array.isArray(res.chains) ? res.chains : [])
    .map((c) => (Array.isArray(c.certificates) ? c.certificates.filter((p) => typeof p === 'string') : []))
    .filter((c) => c.length > 0);
  if (chains.length === 0) throw new SigilError('UPSTREAM_ERROR', 'CA trust bundle is empty');
  return chains;
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
}): Promise<Record<string, unknown>> {
  const timeout = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
  const caUrl = opts.caUrl.replace(/\/+$/, '');
  const [chain] = await trustBundle(caUrl, timeout);
  const chainDer = (chain ?? []).map((pem) => pemDer(pem, 'CERTIFICATE'));
  const ctKey = pemDer(await callText(`${caUrl}/ct/v1/public-key`, timeout), 'PUBLIC KEY');
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
    tlogs: [{ baseUrl: logUrl, publicKeyDer: logKey, validFrom }],
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

async function callText(url: string, timeoutMs: number): Promise<string> {
  const { status, text } = await fetchBounded(url, { timeoutMs, maxBytes: MAX_RESPONSE_BYTES });
  if (status < 200 || status > 299)
    throw new SigilError('UPSTREAM_ERROR', `${url} answered ${status}: ${errorMessage(text)}`);
  return text;
}

async function call(url: string, timeoutMs: number): Promise<unknown> {
  const json = parseAnswer(await callText(url, timeoutMs));
  if (typeof json !== 'object' || json === null)
    throw new SigilError('UPSTREAM_ERROR', `${url} did not answer a JSON object`);
  return json;
}

function errorMessage(text: string): string {
  const m = (parseAnswer(text) as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m.slice(0, 300) : text.slice(0, 200);
}
