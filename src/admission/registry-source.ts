import type { CosignSignatureLayer } from '../bundle/index.js';
import { isSigilError, SigilError } from '../errors/index.js';
import {
  DEFAULT_PLATFORM,
  INDEX_MEDIA_TYPES,
  parseDigest,
  parsePlatform,
  parseReference,
  readArtifactReferrers,
  readAttestations,
  readImageSignatures,
  RegistryClient,
  type CredentialStore,
  type ImageReference,
  type MountedCredentials,
  type Platform,
  type ResolvedSecrets,
} from '../oci/index.js';
import { loadTimestampSupport } from '../verify/index.js';
import type { IvpImageSource } from './ivp/verifier.js';
import { FETCHED, type RegistryAccess, type SignatureLookup } from './verifier.js';

/** IVP `cosign.source` as the OCI reader's attachment options (cosign's target repository and tag prefix). */
function lookupOptions(lookup: SignatureLookup | undefined): {
  repository?: ImageReference;
  tagPrefix?: string;
} {
  if (!lookup) return {};
  return {
    ...(lookup.repository ? { repository: parseReference(lookup.repository) } : {}),
    ...(lookup.tagPrefix ? { tagPrefix: lookup.tagPrefix } : {}),
  };
}

/** Rejects as soon as `signal` aborts (the registry client has its own, longer, timeout). */
function bounded<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new SigilError('TIMEOUT', 'registry request aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new SigilError('TIMEOUT', 'registry request aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const FETCHED_PREFIX = 'dev.sigil.fetched/';
const MEDIA_TYPE_MEMO = 4096;

export function registryAnnotations(a: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(a).filter(([k]) => !k.startsWith(FETCHED_PREFIX)));
}

export interface RegistrySourceOptions {
  /** For a multi-arch index, also accept signatures on this platform's manifest (default linux/amd64). */
  platform?: Platform;
  /** Pull secrets a policy or pod may name (`--registry-credentials DIR`); absent = none mounted. */
  mounted?: MountedCredentials;
  /** A client like `client` with other credentials (default: a plain client). */
  clientWith?: (credentials: CredentialStore) => RegistryClient;
}

const MAX_CLIENTS = 64;

function withCredentialSource(e: unknown, r: ResolvedSecrets): unknown {
  if (!isSigilError(e, 'UNAUTHENTICATED')) return e;
  const used = r.mounted.length > 0 ? `pull secrets ${r.mounted.join(', ')}` : 'no mounted pull secret';
  const missing = r.missing.length > 0 ? `; not mounted: ${r.missing.join(', ')}` : '';
  return new SigilError('UNAUTHENTICATED', `${e.message} (credentials: ${used}${missing})`, { cause: e });
}

/**
 * The registry side, on src/oci: tag → digest (and a pinned digest's presence) in one HEAD,
 * then every signature of the digest (and of the selected platform's manifest, for an
 * index): cosign v3 bundle referrers and legacy `.sig` layers, fetched concurrently and bounded.
 * The HEAD's digest is what gets verified and what the patch pins; validation of an unpinned
 * tag trusts the registry's answer exactly as far as the kubelet's later pull by tag does.
 */
export function registryImageSource(
  client: RegistryClient,
  opts: RegistrySourceOptions = {},
): IvpImageSource {
  const platform = opts.platform ?? parsePlatform(DEFAULT_PLATFORM);
  const clientWith = opts.clientWith ?? ((credentials) => new RegistryClient({ credentials }));
  // One client per set of mounted secrets used (its own tokens: a token got with a secret is
  // never offered for a request without it); a named secret not mounted is skipped, as Kyverno does.
  const clients = new Map<string, RegistryClient>();
  const resolveAccess = (access: RegistryAccess): ResolvedSecrets =>
    opts.mounted?.resolve(access.secrets) ?? {
      store: () => undefined,
      mounted: [],
      missing: access.secrets.map((r) => (r.namespace ? `${r.namespace}/${r.name}` : r.name)),
    };
  const keyOf = (r: ResolvedSecrets): string => `secrets:${r.mounted.join(',')}`;
  const pick = async <T>(
    access: RegistryAccess | undefined,
    run: (c: RegistryClient) => Promise<T>,
  ): Promise<T> => {
    if (!access) return run(client);
    const r = resolveAccess(access);
    const key = keyOf(r);
    let c = clients.get(key);
    if (!c) {
      if (clients.size >= MAX_CLIENTS) clients.delete(clients.keys().next().value!);
      c = clientWith(r.store);
      clients.set(key, c);
    }
    try {
      return await run(c);
    } catch (e) {
      throw withCredentialSource(e, r);
    }
  };
  // digest → media type from the HEAD, so a single manifest needs no GET to rule out an index.
  const mediaTypes = new Map<string, string>();
  const resolve = async (client: RegistryClient, ref: ImageReference): Promise<string> => {
    const head = await client.headManifest(ref);
    if (!head) throw new SigilError('NOT_FOUND', `manifest ${ref.toString()} not found`);
    parseDigest(head.digest);
    if (ref.digest && head.digest !== ref.digest)
      throw new SigilError(
        'DIGEST_MISMATCH',
        `manifest ${ref.toString()}: the registry serves it as ${head.digest}`,
      );
    if (mediaTypes.size >= MEDIA_TYPE_MEMO) mediaTypes.clear();
    mediaTypes.set(head.digest, head.mediaType);
    return head.digest;
  };
  const fetch = async (
    client: RegistryClient,
    pinned: ImageReference,
    lookup?: SignatureLookup,
  ): Promise<CosignSignatureLayer[]> => {
    await loadTimestampSupport(); // the layers are verified synchronously; some may carry RFC 3161 timestamps
    const type = mediaTypes.get(pinned.digest ?? '');
    const maybeIndex = type === undefined || INDEX_MEDIA_TYPES.includes(type);
    const sigs = await readImageSignatures(client, pinned, {
      ...(maybeIndex ? { platform } : {}),
      ...lookupOptions(lookup),
    });
    const layers: CosignSignatureLayer[] = [];
    for (const b of sigs.bundles)
      layers.push({
        payload: b.bytes,
        annotations: { [FETCHED.kind]: 'bundle', [FETCHED.subject]: b.subject },
      });
    for (const g of sigs.legacy)
      for (const l of g.layers)
        layers.push({
          payload: l.payload,
          annotations: { ...registryAnnotations(l.annotations), [FETCHED.subject]: g.subject },
        });
    return layers;
  };
  return {
    resolveDigest: (ref, signal, access) =>
      bounded(
        pick(access, (c) => resolve(c, ref)),
        signal,
      ),
    fetchSignatures: (pinned, signal, access, lookup) =>
      bounded(
        pick(access, (c) => fetch(c, pinned, lookup)),
        signal,
      ),
    credentialKey: (access) => (access ? keyOf(resolveAccess(access)) : ''),
    fetchAttestations: (
      pinned: ImageReference,
      signal: AbortSignal,
      access?: RegistryAccess,
      lookup?: SignatureLookup,
    ) =>
      bounded(
        pick(access, async (c) => {
          await loadTimestampSupport();
          return readAttestations(c, pinned, lookupOptions(lookup));
        }),
        signal,
      ),
    fetchReferrers: (
      pinned: ImageReference,
      artifactType: string,
      signal: AbortSignal,
      access?: RegistryAccess,
    ) =>
      bounded(
        pick(access, async (c) => {
          await loadTimestampSupport();
          return readArtifactReferrers(c, pinned, artifactType);
        }),
        signal,
      ),
  };
}
