import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseTrustedRoot, type TrustedRoot } from '../bundle/index.js';
import { SigilError } from '../errors/index.js';
import { fetchBounded } from '../http/index.js';

/** Bounds of one TUF update: a hostile mirror can make it neither long, large nor endless. */
export const TUF_LIMITS = {
  updateMs: 10_000,
  requestMs: 5_000,
  metadataBytes: 512 * 1024,
  targetBytes: 1024 * 1024,
  rootRotations: 32,
} as const;

export const TRUSTED_ROOT_TARGET = 'trusted_root.json';
/** The name Sigstore's TUF repositories give the signing config (cosign v3, sigstore-go). */
export const SIGNING_CONFIG_TUF_TARGET = 'signing_config.v0.2.json';

export interface TufSource {
  /** Base URL of the repository's metadata (targets under `<mirror>/targets`). */
  mirror: string;
  /** The trusted root metadata (root.json) the update starts from, or the URL it is fetched from each time. */
  root: Buffer | { url: string };
}

type TufJs = typeof import('tuf-js');

let tufJs: Promise<{ lib: TufJs; httpError: new (m: string, status: number) => Error }> | undefined;
/** tuf-js and its dependencies load only when a policy names a TUF repository. */
function loadTufJs() {
  tufJs ??= Promise.all([import('tuf-js'), import('tuf-js/dist/error.js')]).then(([lib, errors]) => ({
    lib,
    httpError: (errors as unknown as { DownloadHTTPError: new (m: string, status: number) => Error })
      .DownloadHTTPError,
  }));
  return tufJs;
}

async function boundedFetcher() {
  const { lib, httpError } = await loadTufJs();
  /** Requests through sigil's bounded fetch (timeout, size, no redirects); non-2xx is tuf-js's HTTP error. */
  return new (class extends lib.BaseFetcher {
    async fetch(url: string): Promise<NodeJS.ReadableStream> {
      const r = await fetchBounded(url, {
        timeoutMs: TUF_LIMITS.requestMs,
        maxBytes: Math.max(TUF_LIMITS.metadataBytes, TUF_LIMITS.targetBytes),
        what: `the TUF mirror at ${url}`,
      });
      if (r.status < 200 || r.status > 299) throw new httpError(`${url} answered ${r.status}`, r.status);
      return Readable.from([r.bytes]);
    }
  })();
}

async function rootBytes(root: TufSource['root']): Promise<Buffer> {
  if (Buffer.isBuffer(root)) return root;
  const r = await fetchBounded(root.url, {
    timeoutMs: TUF_LIMITS.requestMs,
    maxBytes: TUF_LIMITS.metadataBytes,
    what: `the TUF root at ${root.url}`,
  });
  if (r.status !== 200) throw new Error(`the TUF root at ${root.url} answered ${r.status}`);
  return r.bytes;
}

/**
 * The trusted root a TUF repository serves now: a full client update (root rotations,
 * timestamp, snapshot, targets, each signature, version and expiry checked by tuf-js) from
 * `source.root`, then the `trusted_root.json` target, its length and hash checked. Every
 * failure is a SigilError naming the mirror; nothing is cached on disk past the call.
 */
export async function fetchTufTrustedRoot(source: TufSource): Promise<TrustedRoot> {
  const { lib } = await loadTufJs();
  const dir = mkdtempSync(join(tmpdir(), 'sigil-tuf-'));
  const fail = (why: string, cause?: unknown) =>
    new SigilError('UPSTREAM_ERROR', `tuf ${source.mirror}: ${why}`, cause ? { cause } : undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    const update = (async () => {
      writeFileSync(join(dir, 'root.json'), await rootBytes(source.root));
      const mirror = source.mirror.replace(/\/+$/, '');
      const updater = new lib.Updater({
        metadataDir: dir,
        metadataBaseUrl: mirror,
        targetDir: dir,
        targetBaseUrl: `${mirror}/targets`,
        fetcher: await boundedFetcher(),
        config: {
          maxRootRotations: TUF_LIMITS.rootRotations,
          rootMaxLength: TUF_LIMITS.metadataBytes,
          timestampMaxLength: TUF_LIMITS.metadataBytes,
          snapshotMaxLength: TUF_LIMITS.metadataBytes,
          targetsMaxLength: TUF_LIMITS.metadataBytes,
          maxDelegations: 8,
          fetchTimeout: TUF_LIMITS.requestMs,
          fetchRetries: 0,
        },
      });
      await updater.refresh();
      const info = await updater.getTargetInfo(TRUSTED_ROOT_TARGET);
      if (!info) throw fail(`the repository has no ${TRUSTED_ROOT_TARGET} target`);
      if (info.length > TUF_LIMITS.targetBytes)
        throw fail(`${TRUSTED_ROOT_TARGET} is ${info.length} bytes (at most ${TUF_LIMITS.targetBytes})`);
      return readFileSync(await updater.downloadTarget(info, join(dir, 'target-trusted_root.json')));
    })();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(fail(`no answer within ${TUF_LIMITS.updateMs} ms`)),
        TUF_LIMITS.updateMs,
      );
    });
    update.catch(() => undefined);
    const bytes = await Promise.race([update, deadline]);
    try {
      return parseTrustedRoot(JSON.parse(bytes.toString('utf8')));
    } catch (e) {
      throw fail(`${TRUSTED_ROOT_TARGET} is not a trusted root: ${(e as Error).message}`, e);
    }
  } catch (e) {
    if (e instanceof SigilError && e.message.startsWith(`tuf ${source.mirror}:`)) throw e;
    throw fail((e as Error).message, e);
  } finally {
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  }
}
