import { randomUUID } from 'node:crypto';
import { request } from 'node:https';

/** What the API server would learn from the webhook for one pod. */
export interface AdmissionAnswer {
  allowed: boolean;
  message: string;
  /** The JSON Patch the webhook returned (digest pinning), decoded. */
  patch: { op: string; path: string; value?: unknown }[];
  warnings: string[];
}

const MAX_ANSWER_BYTES = 1024 * 1024;

/** An `admission.k8s.io/v1` AdmissionReview for a pod CREATE, as the Kubernetes API server sends it. */
export function podReview(name: string, image: string, namespace = 'default'): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      name,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace },
        spec: { containers: [{ name: 'app', image }] },
      },
    },
  };
}

/** POSTs a review over HTTPS to the webhook (trusting its CA, as the caBundle does) and reads the answer. */
export function sendReview(
  url: string,
  caPem: string,
  review: Record<string, unknown>,
): Promise<AdmissionAnswer> {
  const body = JSON.stringify(review);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca: caPem,
        timeout: 15_000,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
          if (text.length > MAX_ANSWER_BYTES) req.destroy(new Error('admission answer too large'));
        });
        res.on('end', () => {
          try {
            if (res.statusCode !== 200)
              throw new Error(`webhook answered HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
            const r = (JSON.parse(text) as { response?: Record<string, unknown> }).response ?? {};
            const uid = (review.request as { uid: string }).uid;
            if (r.uid !== uid) throw new Error('webhook answered for another request uid');
            const patch =
              typeof r.patch === 'string'
                ? (JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) as AdmissionAnswer['patch'])
                : [];
            resolve({
              allowed: r.allowed === true,
              message: String((r.status as { message?: unknown } | undefined)?.message ?? ''),
              patch,
              warnings: Array.isArray(r.warnings) ? r.warnings.map(String) : [],
            });
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('webhook did not answer within 15 s')));
    req.on('error', reject);
    req.end(body);
  });
}
