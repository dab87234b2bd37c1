import { SigilError } from '../errors/index.js';
import type { Decision } from './decision.js';
import type { AdmissionInput } from './engine.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface ParsedReview {
  uid: string;
  input: AdmissionInput;
}

function bad(message: string): SigilError {
  return new SigilError('INVALID_INPUT', `malformed AdmissionReview: ${message}`);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function str(
  o: Record<string, unknown>,
  key: string,
  what: string,
  opts: { optional?: boolean; max?: number } = {},
): string {
  const v = o[key];
  if (v === undefined || v === null || v === '') {
    if (opts.optional) return '';
    throw bad(`${what}.${key} is required`);
  }
  if (typeof v !== 'string') throw bad(`${what}.${key} must be a string`);
  if (v.length > (opts.max ?? 253)) throw bad(`${what}.${key} is too long`);
  return v;
}

/**
 * Reads an `admission.k8s.io/v1` AdmissionReview. The resource's identity (kind, namespace,
 * name) comes from the request, never from annotations; verification state inside the object
 * (kyverno.io/verify-images and the like) is not read at all.
 */
export function parseAdmissionReview(body: unknown): ParsedReview {
  const review = obj(body, 'body');
  if (review.apiVersion !== ADMISSION_API_VERSION) throw bad(`apiVersion must be ${ADMISSION_API_VERSION}`);
  if (review.kind !== 'AdmissionReview') throw bad('kind must be AdmissionReview');
  const req = obj(review.request, 'request');
  const uid = str(req, 'uid', 'request', { max: 128 });
  const gvk = obj(req.kind, 'request.kind');
  const kind = str(gvk, 'kind', 'request.kind', { max: 63 });
  // An absent group/version (not sent by the API server) falls back to the kind's own.
  const group =
    gvk.group === undefined ? undefined : str(gvk, 'group', 'request.kind', { optional: true, max: 253 });
  const version = str(gvk, 'version', 'request.kind', { optional: true, max: 63 }) || undefined;
  const subresource = str(req, 'subResource', 'request', { optional: true, max: 63 });
  const userInfo = parseUserInfo(req.userInfo);
  const operation = str(req, 'operation', 'request', { max: 16 });
  if (!['CREATE', 'UPDATE', 'DELETE', 'CONNECT'].includes(operation))
    throw bad(`unknown operation ${JSON.stringify(operation)}`);
  const object = req.object;
  if (operation === 'CREATE' || operation === 'UPDATE') obj(object, 'request.object');
  const meta =
    typeof object === 'object' && object !== null ? (object as Record<string, unknown>).metadata : undefined;
  const m =
    typeof meta === 'object' && meta !== null && !Array.isArray(meta)
      ? (meta as Record<string, unknown>)
      : {};
  const namespace =
    str(req, 'namespace', 'request', { optional: true, max: 63 }) ||
    str(m, 'namespace', 'request.object.metadata', { optional: true, max: 63 });
  const name =
    str(req, 'name', 'request', { optional: true }) ||
    str(m, 'name', 'request.object.metadata', { optional: true }) ||
    str(m, 'generateName', 'request.object.metadata', { optional: true });
  return {
    uid,
    input: {
      kind,
      namespace,
      name,
      operation,
      object,
      ...(group !== undefined ? { group } : {}),
      ...(version ? { version } : {}),
      subresource,
      ...(userInfo ? { userInfo } : {}),
      oldObject: req.oldObject ?? null,
      request: req,
    },
  };
}

const MAX_GROUPS = 256;

/** `request.userInfo` {username, groups}: what match/exclude `subjects` are checked against. */
function parseUserInfo(v: unknown): { username: string; groups: string[] } | undefined {
  if (v === undefined || v === null) return undefined;
  const u = obj(v, 'request.userInfo');
  const username = str(u, 'username', 'request.userInfo', { optional: true, max: 1024 });
  const groups = u.groups ?? [];
  if (
    !Array.isArray(groups) ||
    groups.length > MAX_GROUPS ||
    groups.some((g) => typeof g !== 'string' || g.length > 1024)
  )
    throw bad(`request.userInfo.groups must be a list of at most ${MAX_GROUPS} strings`);
  return { username, groups: groups as string[] };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
  patchType?: 'JSONPatch';
  patch?: string;
}

/** The AdmissionReview answer: same uid, 403 + message on deny, base64 JSON Patch when mutating. */
export function admissionResponse(
  uid: string,
  d: Decision,
): { apiVersion: string; kind: string; response: AdmissionResponse } {
  const response: AdmissionResponse = { uid, allowed: d.allowed };
  if (!d.allowed) response.status = { code: 403, reason: 'Forbidden', message: d.message ?? 'denied' };
  if (d.warnings.length > 0) response.warnings = d.warnings;
  if (d.allowed && d.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(d.patch)).toString('base64');
  }
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}
