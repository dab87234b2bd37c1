/**
 * Registry requests per cold admission review, legacy `.sig` layout beside cosign v3 bundle
 * referrers (part of `npm run bench:admission`): an admission engine in this process, its
 * verification cache off, reaches the registry through a counting HTTP proxy. One pass primes
 * what a webhook process keeps between reviews (connections, the "this repository has no
 * referrers API" memo); the next pass is counted.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdmissionEngine } from '../src/admission/engine.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../src/admission/real-verifier.js';
import { parsePolicyText } from '../src/admission/policy/index.js';
import type { TrustedRoot } from '../src/bundle/index.js';
import { RegistryClient } from '../src/oci/index.js';

export interface RequestCount {
  reviews: number;
  requestsPerReview: number;
  byMethodAndKind: Record<string, number>;
}

function kindOf(method: string, url: string): string {
  const m = /\/(manifests|blobs|referrers)\/([^/?]+)/.exec(url);
  if (!m) return `${method} other`;
  const [, what, id] = m;
  if (what === 'manifests' && id!.endsWith('.sig')) return `${method} .sig manifest`;
  if (what === 'manifests' && /^sha256-[0-9a-f]{64}$/.test(id!)) return `${method} fallback tag`;
  return `${method} ${what}`;
}

/** Counts the registry requests of cold reviews of `images` (pod image strings) under the policy text. */
export async function countRegistryRequests(
  registryHost: string,
  policyYaml: string,
  root: TrustedRoot,
  images: { ref: string; mode: 'mutate' | 'validate' }[],
  rewrite: (image: string, proxyHost: string) => string,
): Promise<RequestCount> {
  const counts: Record<string, number> = {};
  let counting = false;
  const [host, port] = registryHost.split(':');
  const proxy = createServer((req, res) => {
    if (counting) {
      const k = kindOf(req.method ?? 'GET', req.url ?? '');
      counts[k] = (counts[k] ?? 0) + 1;
    }
    const up = request(
      { host, port: Number(port), method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyHost = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  try {
    const source = registryImageSource(new RegistryClient({ timeoutMs: 10_000 }));
    const verifier = new SigstoreSignatureVerifier(root);
    const rewritten = parsePolicyText(policyYaml.split(registryHost).join(proxyHost), 'bench-policy.yaml', {
      hasTrustedRoot: true,
    });
    const pass = async (): Promise<void> => {
      for (const im of images) {
        const engine = new AdmissionEngine({
          policies: rewritten,
          source,
          verifier,
          timeoutMs: 8000,
          excludedNamespaces: [],
        });
        const image = rewrite(im.ref, proxyHost);
        const d = await engine.evaluate(
          {
            kind: 'Pod',
            namespace: 'default',
            name: 'count',
            operation: 'CREATE',
            object: {
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: 'count' },
              spec: { containers: [{ name: 'c', image }] },
            },
          },
          im.mode,
        );
        if (!d.allowed)
          throw new Error(`bench: ${image} was denied while counting requests: ${d.message ?? ''}`);
      }
    };
    await pass();
    counting = true;
    await pass();
    counting = false;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return {
      reviews: images.length,
      requestsPerReview: Math.round((total / images.length) * 100) / 100,
      byMethodAndKind: Object.fromEntries(
        Object.entries(counts).map(([k, v]) => [k, Math.round((v / images.length) * 100) / 100]),
      ),
    };
  } finally {
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
  }
}
