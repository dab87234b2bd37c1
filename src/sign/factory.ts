import type { KeyObject } from 'node:crypto';
import { RekorClient } from '../rekor/client.js';
import { identityProvider, type TokenSources } from '../oidc/providers.js';
import { BundleBuilder } from './bundle-builder.js';
import { FulcioClient } from './fulcio.js';
import { ephemeralSigner, keySigner } from './signer.js';
import { logWitness } from './witness.js';
import { rekorV2Witness } from './witness-v2.js';
import { RekorV2Client } from '../rekor-v2/client.js';
import { TsaClient } from './timestamp.js';
import type { Progress, Signer, Witness } from './types.js';

/** Everything signing needs, parsed once at the edge (CLI flags, env, stack.env). */
export interface SigningConfig {
  key:
    | { kind: 'keyless'; caUrl: string; tokens: TokenSources }
    | { kind: 'key-file'; privateKey: KeyObject; publicKey: KeyObject };
  /** The transparency log; undefined signs without logging (nothing verifies such signatures by default). */
  logUrl: string | undefined;
  /** More logs to write to (a signing config with selector ALL or EXACT). */
  extraLogUrls?: string[];
  /** Which of those logs speak the Rekor v2 API (majorApiVersion 2 in the signing config). */
  rekorV2Urls?: readonly string[];
  /** Full timestamp URLs of RFC 3161 TSAs; each signature is timestamped by each. */
  tsaUrls?: string[];
  timeoutMs?: number;
  progress?: Progress;
}

export interface SigningStack {
  signer: Signer;
  witnesses: Witness[];
  builder: BundleBuilder;
}

/** Wires a signer (ephemeral keyless via the CA, or a key file), the log witness and a bundle builder. */
export function createSigning(config: SigningConfig): SigningStack {
  const progress = config.progress;
  const signer =
    config.key.kind === 'keyless'
      ? ephemeralSigner({
          ca: new FulcioClient(config.key.caUrl, config.timeoutMs),
          identity: identityProvider(config.key.tokens),
          ...(progress ? { progress } : {}),
        })
      : keySigner(config.key.privateKey, config.key.publicKey);
  const logUrls = config.logUrl === undefined ? [] : [config.logUrl, ...(config.extraLogUrls ?? [])];
  const timeout = config.timeoutMs ? { timeoutMs: config.timeoutMs } : {};
  const v2 = new Set(config.rekorV2Urls ?? []);
  const witnesses = logUrls.map((url) =>
    v2.has(url)
      ? rekorV2Witness(new RekorV2Client(url, timeout), progress)
      : logWitness(new RekorClient(url, timeout), progress),
  );
  const timestampers = (config.tsaUrls ?? []).map((url) => new TsaClient(url, config.timeoutMs, progress));
  return { signer, witnesses, builder: new BundleBuilder(signer, witnesses, timestampers) };
}
