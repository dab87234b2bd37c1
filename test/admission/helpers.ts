import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, type Server } from 'node:net';
import { RegistryClient, parseReference, pushImage, tinyImage } from '../../src/oci/index.js';
import { createSigning, resolveImage, signImage } from '../../src/sign/index.js';
import type { TestContext } from 'node:test';
import type { AdmissionServer } from '../../src/admission/server.js';
import { startStack, type Stack } from '../e2e/stack.js';
import { startDockerRegistry } from '../helpers/registry.js';

type Builder = ReturnType<typeof createSigning>['builder'];

/** Push, and keyless-sign through the stack's CA and log as a workflow (`overrides` = token claims). */
export function imageTools(stack: Stack, client: RegistryClient) {
  return {
    push: (ref: string, seed: string): Promise<string> =>
      pushImage(client, parseReference(ref), tinyImage(seed)),
    signer: async (overrides: Record<string, unknown> = {}): Promise<Builder> =>
      createSigning({
        key: {
          kind: 'keyless',
          caUrl: stack.ca.url,
          tokens: { token: await stack.oidc.mint(overrides), env: {} },
        },
        logUrl: stack.log.url,
      }).builder,
    sign: async (ref: string, builder: Builder): Promise<void> => {
      await signImage({ client, image: await resolveImage(client, parseReference(ref)), builder });
    },
  };
}

/**
 * Debian's docker-registry and the signing stack for a webhook test over HTTPS, closed after the
 * test with every server pushed to `servers`; undefined where the registry is absent (skipped).
 */
export async function webhookTestbed(t: TestContext) {
  const registry = await startDockerRegistry(t);
  if (!registry) return undefined;
  const stack = await startStack();
  const servers: AdmissionServer[] = [];
  t.after(async () => {
    for (const s of servers) await s.close();
    await stack.close();
    await registry.stop();
  });
  const client = new RegistryClient();
  return { registry, stack, servers, client, host: registry.host, ...imageTools(stack, client) };
}

export interface HttpAnswer {
  status: number;
  body: unknown;
  text: string;
}

/** POST JSON over HTTPS trusting only `ca` (the webhook's generated CA), as the API server would. */
export function postJson(url: string, body: unknown, ca: string, raw?: string): Promise<HttpAnswer> {
  const payload = raw ?? JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export function getText(url: string, ca: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: undefined, text }));
    })
      .on('error', reject)
      .end();
  });
}

let uidCounter = 0;

/** An AdmissionReview v1 for `object` of `kind` (CREATE in `namespace`). */
export function review(
  kind: string,
  object: Record<string, unknown>,
  namespace = 'default',
  operation = 'CREATE',
) {
  const meta = object.metadata as Record<string, unknown> | undefined;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${++uidCounter}-${Date.now()}`,
      kind: { group: kind === 'Pod' ? '' : 'apps', version: 'v1', kind },
      resource: { group: kind === 'Pod' ? '' : 'apps', version: 'v1', resource: `${kind.toLowerCase()}s` },
      namespace,
      name: meta?.name,
      operation,
      object,
    },
  };
}

export function pod(name: string, images: string[], init: string[] = []) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      ...(init.length ? { initContainers: init.map((image, i) => ({ name: `init-${i}`, image })) } : {}),
      containers: images.map((image, i) => ({ name: `c-${i}`, image })),
    },
  };
}

export function deployment(name: string, images: string[], init: string[] = []) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: { template: { metadata: { labels: { app: name } }, spec: pod(name, images, init).spec } },
  };
}

/** A TCP server that accepts connections and never answers (a hung registry). */
export async function blackHole(): Promise<{ host: string; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const srv: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** Process ids of `pid` and all its descendants (from /proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const children = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (children) out.push(...children.split(' ').map(Number));
      } catch {
        // the thread or process ended meanwhile
      }
    }
  }
  return out;
}

/** Whether process `pid` still exists (a zombie not yet reaped counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
