import { createPublicKey, type KeyObject } from 'node:crypto';
import type { TransparencyLogInstance, TrustedRoot } from '../bundle/index.js';
import { TRUSTED_ROOT_MEDIA_TYPE } from '../bundle/index.js';
import { pemBlocks, sha256 } from '../crypto/index.js';
import { createTrustMaterial, verifyEmbeddedScts, type TrustMaterial } from '../verify/index.js';
import { validateChain } from '../x509/chain.js';
import { parseCertificate } from '../x509/parse.js';
import type { CertificateAttestor, SigningAttestor } from './policy/types.js';

const EPOCH = new Date(0);

/** A policy-given log key: valid from the epoch (the trust material refuses a window without a start). */
function logFromPem(pem: string, baseUrl: string): TransparencyLogInstance {
  const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return {
    baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: der, keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: EPOCH } },
    logId: sha256(der),
  };
}

/** A trusted root that trusts nothing (what the policy's own keys are added to). */
export function emptyRoot(): TrustedRoot {
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
}

/**
 * The trust one attestor verifies with: the server's trusted root, overridden by `roots`
 * (keyless), `rekor.pubkey` and `ctlog.pubkey`; `ctlog.tsaCertChain` replaces the timestamp
 * authorities, as cosign's TSACertificate/TSARootCertificates do: a timestamp from a TSA the
 * server root lists is not one from the TSA the policy names.
 */
export function attestorTrust(base: TrustedRoot | undefined, a: SigningAttestor): TrustMaterial {
  const root: TrustedRoot = { ...(base ?? emptyRoot()) };
  if (a.kind === 'keyless' && a.roots) {
    root.certificateAuthorities = pemBlocks(a.roots).map((b, i) => ({
      uri: `policy-roots-${i}`,
      certChain: [b.der],
      validFor: { start: EPOCH },
    }));
  }
  if (a.kind === 'certificate' && a.chain)
    root.certificateAuthorities = [
      {
        uri: 'policy-cert-chain',
        certChain: pemBlocks(a.chain).map((b) => b.der),
        validFor: { start: EPOCH },
      },
    ];
  if (a.rekor.pubkey) root.tlogs = [logFromPem(a.rekor.pubkey, a.rekor.url ?? 'policy-rekor')];
  if (a.ctlog.pubkey) root.ctlogs = [logFromPem(a.ctlog.pubkey, 'policy-ctlog')];
  if (a.ctlog.tsaCertChain)
    root.timestampAuthorities = [
      {
        uri: 'policy-tsa-cert-chain',
        certChain: pemBlocks(a.ctlog.tsaCertChain).map((b) => b.der),
        validFor: { start: EPOCH },
      },
    ];
  return createTrustMaterial(root);
}

/** The pipeline options of an attestor: key or certificate key, tlog, SCT and timestamp thresholds. */
export function attestorOptions(a: SigningAttestor): {
  publicKey?: KeyObject;
  tlogThreshold: number;
  ctlogThreshold?: number;
  tsaThreshold?: number;
} {
  const tlogThreshold = a.rekor.ignoreTlog ? 0 : 1;
  const tsa = a.ctlog.tsaCertChain ? { tsaThreshold: 1 } : {};
  if (a.kind === 'keys') return { publicKey: createPublicKey(a.publicKey), tlogThreshold, ...tsa };
  if (a.kind === 'certificate') return { publicKey: createPublicKey(a.certificate), tlogThreshold, ...tsa };
  return { tlogThreshold, ctlogThreshold: a.ctlog.ignoreSCT ? 0 : 1, ...tsa };
}

/** A certificate attestor's options for signatures that carry its certificate (chained to certChain). */
export function certificateModeOptions(a: CertificateAttestor): ReturnType<typeof attestorOptions> {
  return {
    tlogThreshold: a.rekor.ignoreTlog ? 0 : 1,
    ctlogThreshold: a.ctlog.ignoreSCT ? 0 : 1,
    ...(a.ctlog.tsaCertChain ? { tsaThreshold: 1 } : {}),
  };
}

/**
 * cosign's ValidateAndUnpackCertWithChain for `certificate {cert, certChain}`: the certificate
 * chains to the chain's last certificate (the rest intermediates) at its notBefore with
 * codeSigning, and, unless ignoreSCT, carries an embedded SCT that verifies. Without a chain the
 * certificate only supplies the key (cosign `--certificate` alone). Undefined when it holds.
 */
export function certificateProblem(a: CertificateAttestor, trust: TrustMaterial): string | undefined {
  if (!a.chain) return undefined;
  try {
    const leaf = parseCertificate(pemBlocks(a.certificate)[0]!.der);
    const chain = pemBlocks(a.chain).map((b) => parseCertificate(b.der));
    const anchor = chain[chain.length - 1]!;
    const path = validateChain(leaf, [{ certChain: [anchor], validFor: { start: EPOCH } }], {
      at: leaf.notBefore,
      untrustedIntermediates: chain.slice(0, -1),
    });
    if (a.ctlog.ignoreSCT) return undefined;
    if (!leaf.sctList)
      return 'certificate does not include required embedded SCT and no detached SCT was set';
    if (verifyEmbeddedScts(leaf, path[1]!, trust).length === 0) return 'SCT: no embedded SCT verified';
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
