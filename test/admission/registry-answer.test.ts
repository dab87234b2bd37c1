import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../src/bundle/index.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { createAdmissionServer, type AdmissionServer } from '../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { RegistryClient } from '../../src/oci/index.js';
import { startDockerRegistry } from '../helpers/registry.js';
import { startStack } from '../e2e/stack.js';
import { imageTools, pod, postJson, review } from './helpers.js';

/**
 * A registry that answers the signature lookup with an HTTP error is a verification failure
 * (Kyverno: only network errors and deadlines are rule errors). Under an Enforce rule with
 * failurePolicy Ignore, such an answer used to be an "error" and the pod was admitted
 * unverified; an unreachable registry under Ignore (the control) still admits with a warning.
 */

interface Answer {
  allowed: boolean;
  status?: { message: string };
  warnings?: string[];
}

/** Forwards to `upstream`, but answers 500 for signature tags and the referrers API. */
async function signatureBreaker(upstream: string): Promise<{ host: string; close(): Promise<void> }> {
  const [uh, up] = upstream.split(':');
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (/\/manifests\/sha256-[0-9a-f]{64}/.test(url) || url.includes('/referrers/')) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNKNOWN","message":"boom"}]}');
      return;
    }
    const fwd = request(
      {
        host: uh,
        port: Number(up),
        method: req.method,
        path: url,
        headers: { ...req.headers, host: upstream },
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

test('a registry answering 500 for signatures is a failure under Enforce, not an ignorable error', async (t) => {
  const registry = await startDockerRegistry(t);
  if (!registry) return;
  const stack = await startStack();
  const breaker = await signatureBreaker(registry.host);
  const servers: AdmissionServer[] = [];
  t.after(async () => {
    for (const s of servers) await s.close();
    await breaker.close();
    await stack.close();
    await registry.stop();
  });
  const client = new RegistryClient();
  const { push } = imageTools(stack, client);
  const digest = await push(`${registry.host}/org/app:v1`, 'breaker');

  const yaml = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: ignore-errors}
spec:
  failurePolicy: Ignore
  rules:
    - name: signed
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["127.0.0.1:*"]
          failureAction: Enforce
          attestors:
            - entries:
                - keyless:
                    subjectRegExp: "^https://github.com/org/.*"
                    issuer: "${stack.oidc.issuer}"
                    rekor: {url: "${stack.log.url}"}`;
  const server = await createAdmissionServer({
    policies: parsePolicyText(yaml, 'ignore-errors.yaml', { hasTrustedRoot: true }),
    source: registryImageSource(new RegistryClient({ timeoutMs: 2000 })),
    verifier: new SigstoreSignatureVerifier(parseTrustedRoot(stack.trustedRootJson)),
    port: 0,
    timeoutMs: 4000,
    logLevel: 'silent',
  });
  servers.push(server);
  const admit = async (image: string): Promise<Answer> => {
    const r = await postJson(`${server.url}/mutate`, review('Pod', pod('p', [image])), server.caPem!);
    assert.equal(r.status, 200, r.text);
    return (r.body as { response: Answer }).response;
  };

  for (const image of [`${breaker.host}/org/app:v1`, `${breaker.host}/org/app@${digest}`]) {
    const d = await admit(image);
    assert.equal(d.allowed, false, `${image}: the registry answered 500 for its signatures`);
    assert.match(d.status!.message, /registry answered 500/);
  }
  // Control: a registry nobody listens on is an infrastructure error, admitted under Ignore.
  const down = await admit('127.0.0.1:1/org/app:v1');
  assert.equal(down.allowed, true);
  assert.match((down.warnings ?? []).join('\n'), /failurePolicy Ignore: admitted unverified/);
});
