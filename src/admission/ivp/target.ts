import type { AdmissionInput } from '../engine.js';
import { isObject } from '../policy/fields.js';
import type { RequestTarget } from './match.js';

const BY_KIND: Record<string, [group: string, version: string, resource: string]> = {
  Pod: ['', 'v1', 'pods'],
  Deployment: ['apps', 'v1', 'deployments'],
  StatefulSet: ['apps', 'v1', 'statefulsets'],
  DaemonSet: ['apps', 'v1', 'daemonsets'],
  ReplicaSet: ['apps', 'v1', 'replicasets'],
  ReplicationController: ['', 'v1', 'replicationcontrollers'],
  Job: ['batch', 'v1', 'jobs'],
  CronJob: ['batch', 'v1', 'cronjobs'],
};

function labels(o: unknown): Record<string, string> {
  const meta = isObject(o) ? o.metadata : undefined;
  const l = isObject(meta) ? meta.labels : undefined;
  const out: Record<string, string> = {};
  if (isObject(l)) for (const [k, v] of Object.entries(l)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * The matchConstraints view of a request: from the AdmissionRequest's `resource`/`subResource`
 * when there is one, else (a resource file given to the CLI) from the object's kind.
 */
export function targetFor(input: AdmissionInput): RequestTarget {
  const req = isObject(input.request) ? input.request : undefined;
  const res = req && isObject(req.resource) ? req.resource : undefined;
  const known = BY_KIND[input.kind];
  const [group, version, resource] = res
    ? [String(res.group ?? ''), String(res.version ?? ''), String(res.resource ?? '')]
    : (known ?? ['', '', '']);
  return {
    group,
    version,
    resource,
    subResource: req && typeof req.subResource === 'string' ? req.subResource : '',
    operation: input.operation,
    name: input.name,
    namespace: input.namespace,
    objectLabels: labels(input.object ?? input.oldObject),
    ...(input.namespaceObject !== undefined ? { namespaceLabels: labels(input.namespaceObject) } : {}),
  };
}
