import type { IncomingMessage, ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SigilError } from '../errors/index.js';
import { createApp, listen } from '../server/index.js';
import { InFlightLimit, readBodyBytes, sendError, sendJson } from '../server/raw-http.js';
import { formatCheckpoint, signNote } from '../bundle/index.js';
import { createLog, openSqliteStore, type Log, type TreeHeadSigner } from '../log/index.js';
import { registerTileRoutes } from '../log/tiles/routes.js';
import { startTilePublisher, type TilePublisher } from '../log/tiles/writer.js';
import { loadOrCreateLogKey, readLogKeyFile, type LogKey } from '../rekor/log-key.js';
import { V2_CREATE_PATH } from './api.js';
import { TransparencyLogEntryWriter } from './entry.js';
import { registerV2Explorer } from './explorer.js';
import { createParserPool, inlineParser, type EntryParser } from './pool.js';
import { DEFAULT_V2_BODY_LIMIT } from './request.js';

export { V2_CREATE_PATH };
export const DEFAULT_V2_LOG_PORT = 3003;
/** rekor-tiles answers 503 past 4096 outstanding appends (tessera pushback); sigil's queue is deeper. */
export const DEFAULT_V2_MAX_IN_FLIGHT = 8192;
/** Tiles trail the acknowledged checkpoints by at most about this much under load. */
const TILE_KICK_MS = 200;

export interface RekorV2ServerConfig {
  /** Holds this log's own key (log-signing-key.pem), its SQLite tree and its tiles. */
  dataDir: string;
  /** PKCS#8 PEM of the checkpoint key (default: dataDir/log-signing-key.pem, created if absent). */
  logKeyFile?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Public base URL (no trailing slash). Defaults to the listening URL. */
  publicUrl?: string;
  /** Checkpoint origin and key name (default: the public URL's hostname, as rekor-tiles names its shards). */
  origin?: string;
  bodyLimit?: number;
  logLevel?: string;
  /** Requests in flight before 503 + Retry-After. */
  maxInFlight?: number;
  /** Appends queued in the log core before 503 + Retry-After. */
  maxPending?: number;
  /** Worker threads verifying requests; 0 verifies on the main thread. Default: CPU count. */
  workers?: number;
  /** How often the tile directory is brought up to date besides after each batch (ms). */
  tileIntervalMs?: number;
  tls?: { cert: string; key: string };
}

export interface RekorV2Server {
  url: string;
  publicUrl: string;
  app: FastifyInstance;
  log: Log;
  origin: string;
  /** SHA-256 of the checkpoint key's DER SPKI (logId.keyId, the trusted root's logId). */
  logId: Buffer;
  publicKeyPem: string;
  publicKeyDer: Buffer;
  tiles: TilePublisher;
  close(): Promise<void>;
}

/** C2SP tlog-checkpoint: `<origin>\n<size>\n<root b64>\n`, one signature line named by the origin. */
export function v2CheckpointSigner(key: LogKey, origin: string): TreeHeadSigner {
  return (size, rootHash) =>
    signNote(
      formatCheckpoint({ origin, size, rootHash, extensions: [] }),
      origin,
      key.privateKey,
      key.keyHint,
    );
}

function validOrigin(origin: string): string {
  if (origin === '' || /\s|\+/.test(origin) || origin.length > 256)
    throw new SigilError(
      'INVALID_INPUT',
      `checkpoint origin ${JSON.stringify(origin)} must be non-empty, without spaces or '+'`,
    );
  return origin;
}

/** Go's protojson (rekor-tiles) refuses invalid UTF-8; a lenient decode would verify U+FFFD-patched text. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new SigilError('INVALID_JSON', 'request body is not valid UTF-8');
  }
}

function isJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return type === undefined || /^application\/json\s*(;|$)/i.test(type);
}

/**
 * Asks the tile writer to catch up after appends, at most every `minMs`: the writer reads the new
 * entries back from the store, and reading after every batch competed with the commits themselves.
 */
function tileKicker(tiles: TilePublisher, minMs: number): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    setTimeout(() => {
      queued = false;
      void tiles.writer.sync().catch(() => undefined);
    }, minMs).unref();
  };
}

function createRoute(
  log: Log,
  logId: Buffer,
  parser: EntryParser,
  o: { bodyLimit: number; inFlight: InFlightLimit; onAppended: () => void; onInternal: (e: unknown) => void },
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const writer = new TransparencyLogEntryWriter(logId);
  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!isJson(req)) throw new SigilError('UNSUPPORTED_MEDIA_TYPE', 'the request must be application/json');
    const text = decodeUtf8(await readBodyBytes(req, o.bodyLimit));
    if (text.length === 0) throw new SigilError('INVALID_JSON', 'request body is empty');
    const entry = await parser.parse(text, o.bodyLimit);
    const result = await log.append(entry.body);
    if (result.duplicate)
      throw new SigilError(
        'DUPLICATE_ENTRY',
        `an equivalent entry already exists at index ${result.entry.index}`,
        {
          headers: { 'x-log-index': String(result.entry.index) },
        },
      );
    o.onAppended();
    sendJson(res, 201, writer.bytes(entry, result));
  };
  return (req, res) => {
    if (req.method !== 'POST' || (req.url !== V2_CREATE_PATH && !req.url?.startsWith(`${V2_CREATE_PATH}?`)))
      return false;
    if (!o.inFlight.enter()) {
      sendError(res, InFlightLimit.pushback());
      return true;
    }
    answer(req, res)
      .catch((e: unknown) => sendError(res, e, o.onInternal))
      .finally(() => o.inFlight.leave());
    return true;
  };
}

/**
 * A Rekor v2 log (rekor-tiles' API): its own tree, key and checkpoint origin in `dataDir`,
 * `POST /api/v2/log/entries` answered once the entry is durably committed and in the batch's
 * signed checkpoint, and the C2SP tlog-tiles read path (`/checkpoint`, `/tile/…`) beside it.
 */
export async function createRekorV2Server(config: RekorV2ServerConfig): Promise<RekorV2Server> {
  const host = config.host ?? '127.0.0.1';
  const key = config.logKeyFile ? readLogKeyFile(config.logKeyFile) : loadOrCreateLogKey(config.dataDir);
  const origin = validOrigin(
    config.origin ??
      new URL(config.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}`).hostname,
  );
  const logId = Buffer.from(key.logId, 'hex');
  const store = await openSqliteStore({ dir: config.dataDir });
  let log: Log;
  try {
    log = await createLog({
      store,
      signTreeHead: v2CheckpointSigner(key, origin),
      ...(config.maxPending !== undefined ? { maxPending: config.maxPending } : {}),
    });
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  const size = config.workers ?? availableParallelism();
  let parser: EntryParser;
  try {
    parser = size > 0 ? await createParserPool(size) : inlineParser;
  } catch (e) {
    await log.close();
    throw e;
  }
  const tiles = startTilePublisher(log, join(config.dataDir, 'tiles'), config.tileIntervalMs ?? 1000);
  const bodyLimit = config.bodyLimit ?? DEFAULT_V2_BODY_LIMIT;
  const inFlight = new InFlightLimit(config.maxInFlight ?? DEFAULT_V2_MAX_IN_FLIGHT);
  const holder: { app?: FastifyInstance } = {};
  const app = createApp({
    bodyLimit,
    logLevel: config.logLevel ?? 'warn',
    inFlight,
    fastRoute: createRoute(log, logId, parser, {
      bodyLimit,
      inFlight,
      onAppended: tileKicker(tiles, TILE_KICK_MS),
      onInternal: (e) => holder.app?.log.error({ err: e }, 'append failed'),
    }),
    ...(config.tls ? { https: config.tls } : {}),
  });
  holder.app = app;
  registerTileRoutes(app, join(config.dataDir, 'tiles'));
  registerV2Explorer(app);
  let url: string;
  try {
    url = await listen(app, config.port ?? DEFAULT_V2_LOG_PORT, host);
  } catch (e) {
    await app.close().catch(() => undefined);
    await tiles.stop();
    await parser.close();
    await log.close();
    throw e;
  }
  const der = Buffer.from(key.publicKey.export({ type: 'spki', format: 'der' }));
  return {
    url,
    publicUrl: config.publicUrl?.replace(/\/+$/, '') ?? url,
    app,
    log,
    origin,
    logId,
    publicKeyPem: key.publicKeyPem,
    publicKeyDer: der,
    tiles,
    close: async () => {
      await app.close();
      await tiles.stop();
      await parser.close();
      await log.close();
    },
  };
}
