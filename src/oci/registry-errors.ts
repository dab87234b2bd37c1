import { SigilError } from '../errors/index.js';
import { registryErrorText } from './http.js';
import type { RegistryResponse } from './transport.js';

const answered = new WeakSet<SigilError>();

/**
 * True for an error the registry answered with (an HTTP error status), as opposed to one where
 * it could not be reached or did not answer in time. Admission treats the former as the image's
 * failure, as Kyverno does (only network errors and deadlines are rule errors there).
 */
export function isRegistryAnswer(e: unknown): boolean {
  return e instanceof SigilError && answered.has(e);
}

/** The error for a registry's HTTP error status, marked as the registry's answer. */
export async function registryFailure(res: RegistryResponse, what: string): Promise<SigilError> {
  const e = await statusError(res, what);
  answered.add(e);
  return e;
}

async function statusError(res: RegistryResponse, what: string): Promise<SigilError> {
  const text = await registryErrorText(res);
  const detail = text ? ` (${text})` : '';
  switch (res.status) {
    case 404:
      return new SigilError('NOT_FOUND', `${what} not found${detail}`);
    case 401:
    case 403:
      return new SigilError('UNAUTHENTICATED', `${what}: access denied (${res.status})${detail}`);
    case 413:
      return new SigilError('TOO_LARGE', `${what}: the registry says the content is too large${detail}`);
    default:
      return new SigilError('REGISTRY_ERROR', `${what}: registry answered ${res.status}${detail}`);
  }
}
