import { type Doc, invalid, optBool, optStringList } from './fields.js';
import { refuseSet, refuseUnknown } from './known-fields.js';
import type { RegistryCredentialsSpec, SecretRef } from './types.js';

const MAX_SECRETS = 50;
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const REFUSED = 'is not evaluated by sigil (refused rather than ignored)';

/** Kyverno's parseSecretReference: `name` (the webhook's namespace) or `namespace/name`. */
function secretRef(raw: string, path: string): SecretRef {
  const s = raw.replace(/^\//, '');
  const slash = s.indexOf('/');
  const ref: SecretRef = slash < 0 ? { name: s } : { namespace: s.slice(0, slash), name: s.slice(slash + 1) };
  for (const part of [ref.namespace, ref.name])
    if (part !== undefined && !DNS_SUBDOMAIN.test(part))
      throw invalid(path, `"${raw}" is not a secret name (name or namespace/name)`);
  return ref;
}

/**
 * ClusterPolicy `verifyImages[].imageRegistryCredentials` and ImageValidatingPolicy
 * `credentials`: `secrets` are evaluated (mounted pull secrets, see pull-secrets.ts);
 * `providers` (cloud credential helpers) and `allowInsecureRegistry: true` are refused.
 */
export function parseRegistryCredentials(c: Doc, path: string): RegistryCredentialsSpec {
  refuseUnknown(c, path, ['secrets', 'allowInsecureRegistry', 'providers']);
  refuseSet(c, 'providers', path, `${REFUSED}: cloud credential helpers are not run`);
  if (optBool(c, 'allowInsecureRegistry', path))
    throw invalid(
      `${path}.allowInsecureRegistry`,
      `${REFUSED}: plain HTTP is allowed only by the webhook's --allow-insecure-registry`,
    );
  const secrets = (optStringList(c, 'secrets', path, MAX_SECRETS) ?? []).map((s, i) =>
    secretRef(s, `${path}.secrets[${i}]`),
  );
  return { secrets };
}
