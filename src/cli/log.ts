import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SigilError } from '../errors/index.js';
import { fromBase64, parsePublicKeyOrCertificate, sha256, spkiDer } from '../crypto/index.js';
import { parseCheckpoint, parseSignedNote, verifyNote } from '../bundle/signed-note.js';
import { closeOnSignals } from '../server/index.js';
import { createLogServer, DEFAULT_LOG_PORT, DEFAULT_MAX_IN_FLIGHT } from '../rekor/server.js';
import { createRekorV2Server, DEFAULT_V2_LOG_PORT } from '../rekor-v2/server.js';
import { DEFAULT_LOG_URL, RekorClient, type InactiveShard } from '../rekor/client.js';
import { hashKey } from '../rekor/routes.js';
import type { IdentifiedLogEntry } from '../rekor/log-entry.js';
import { verifyLogEntry } from '../rekor/verify-entry.js';
import { CliError, printJson } from './output.js';
import { cliIo } from './io.js';
import { registerMigrate, replicaHint, storeFlags } from './log-postgres.js';
import { registerRotate } from './log-rotate.js';
import { checkUrl, intFlag, readTextFlag, readTlsFlags, withListenFlags, withTlsFlags } from './flags.js';

interface ClientOpts {
  logUrl: string;
  json?: boolean;
}

const START_HINT = 'start a log with `sigil log serve` or pass --log-url';

export function register(program: Command): void {
  const log = program
    .command('log')
    .description('the transparency log (Rekor v1 API): serve it and query it');

  withListenFlags(withTlsFlags(log.command('serve')), {
    port: DEFAULT_LOG_PORT,
    dataDir: '.sigil',
    dataDirHelp: 'signing key and SQLite log',
  })
    .description(
      'serve the log on HTTP(S) (creates the signing key and database in --data-dir on first start)',
    )
    .option(
      '--public-url <url>',
      'public base URL; its hostname names the checkpoints (default: the listening URL)',
    )
    .option('--body-limit <bytes>', 'largest request body', String(4 * 1024 * 1024))
    .option('--workers <n>', 'verification worker threads (default: CPU count)')
    .option(
      '--max-in-flight <n>',
      'requests in flight before answering 503 + Retry-After',
      String(DEFAULT_MAX_IN_FLIGHT),
    )
    .option(
      '--api <version>',
      `v1: the Rekor v1 API; v2: a Rekor v2 (rekor-tiles) log, its own tree and key in DATA_DIR/rekor-v2 (port ${DEFAULT_V2_LOG_PORT} unless --port)`,
      'v1',
    )
    .option('--origin <name>', 'checkpoint origin of a v2 log (default: the public URL hostname)')
    .option('--store <kind>', 'sqlite (one process) or postgres (several replicas on one database)', 'sqlite')
    .option(
      '--database-url <url>',
      'PostgreSQL URL for --store postgres (env SIGIL_DATABASE_URL)',
      cliIo().env.SIGIL_DATABASE_URL,
    )
    .option('--schema <name>', 'PostgreSQL schema of the log (--store postgres)')
    .option(
      '--log-key <file>',
      'log signing key (PKCS#8 PEM) shared by every replica (env SIGIL_LOG_KEY_FILE; default: created in --data-dir)',
      cliIo().env.SIGIL_LOG_KEY_FILE,
    )
    .action(async (o: Record<string, string | undefined>, cmd: Command) => {
      if (o.publicUrl !== undefined) checkUrl(o.publicUrl, '--public-url');
      const tls = readTlsFlags(o);
      if (o.api === 'v2')
        return serveV2(o, tls, cmd.getOptionValueSource('port') === 'default' ? undefined : o.port);
      if (o.api !== 'v1') throw new CliError(`--api must be v1 or v2, not ${o.api}`);
      const server = await createLogServer({
        dataDir: o.dataDir as string,
        store: storeFlags(o),
        ...(o.logKey ? { logKeyFile: o.logKey } : {}),
        host: o.host,
        port: intFlag(o.port, '--port', 0, 65535),
        bodyLimit: intFlag(o.bodyLimit, '--body-limit', 1024, 1024 * 1024 * 1024),
        ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
        ...(o.workers !== undefined ? { workers: intFlag(o.workers, '--workers', 0, 64) } : {}),
        maxInFlight: intFlag(o.maxInFlight, '--max-in-flight', 1, 1_000_000),
        ...(tls ? { tls } : {}),
        logLevel: cliIo().env.SIGIL_LOG_LEVEL ?? 'warn',
      }).catch(replicaHint);
      cliIo().stdout.write(`sigil log listening on ${server.url}\n`);
      if (server.role) {
        cliIo().stdout.write(`sigil log: postgres replica (tree ${server.treeId}), now ${server.role()}\n`);
      }
      closeOnSignals(() => server.close());
    });

  registerMigrate(log);
  registerRotate(log);

  const withClient = (c: Command): Command =>
    c
      .option('--log-url <url>', 'log base URL', cliIo().env.SIGIL_LOG_URL ?? DEFAULT_LOG_URL)
      .option('--json', 'print JSON');

  withClient(
    log.command('info').description('show the tree size, root hash and verified signed tree head'),
  ).action(async (o: ClientOpts) => {
    const client = clientFor(o);
    const [info, pem] = await Promise.all([client.logInfo(), client.publicKey()]).catch(unreachable);
    const key = parsePublicKeyOrCertificate(pem).key;
    const { signer, origin } = verifyTreeHead(info, key, 'the signed tree head');
    const shards = (info.inactiveShards ?? []).map((s) => ({
      ...s,
      origin: verifyTreeHead(s, key, `the final tree head of shard ${s.treeID}`).origin,
    }));
    const logId = sha256(spkiDer(key)).toString('hex');
    if (o.json) return printJson({ ...info, logId, verified: true });
    let offset = 0;
    let text = '';
    for (const s of shards) {
      text += `Inactive Shard: tree ${s.treeID}, size ${s.treeSize}, global indexes ${offset}–${offset + s.treeSize - 1}, root ${s.rootHash} (final tree head verified)\n`;
      offset += s.treeSize;
    }
    cliIo().stdout.write(
      `Verification: signed tree head verified with the log public key (${signer})\n` +
        `Log ID: ${logId}\n` +
        `Tree Size: ${info.treeSize}\nRoot Hash: ${info.rootHash}\nTree ID: ${info.treeID}\nOrigin: ${origin}\n` +
        (shards.length > 0
          ? `Global Log Indexes: ${offset} onward (after ${shards.length} inactive shard(s))\n${text}`
          : ''),
    );
  });

  withClient(
    log
      .command('get')
      .description('fetch one entry by index or UUID')
      .option('--log-index <n>', 'entry index')
      .option('--uuid <id>', 'entry ID (80 hex) or leaf hash (64 hex)'),
  ).action(async (o: ClientOpts & { logIndex?: string; uuid?: string }) => {
    const entry = await fetchEntry(clientFor(o), o);
    if (o.json) return printJson({ [entry.uuid]: withoutId(entry) });
    cliIo().stdout.write(describeEntry(entry));
  });

  withClient(
    log
      .command('search')
      .description('find entry IDs by artifact digest, email or subject')
      .option('--sha <digest>', 'artifact digest, sha256:<hex> (also sha384/sha512 or bare hex)')
      .option('--email <email>', 'signer email (certificate SAN)')
      .option('--subject <san>', 'any certificate SAN'),
  ).action(async (o: ClientOpts & { sha?: string; email?: string; subject?: string }) => {
    if (o.sha === undefined && o.email === undefined && o.subject === undefined) {
      throw new CliError('nothing to search for', 'pass --sha sha256:<hex>, --email or --subject');
    }
    let hash: string | undefined;
    if (o.sha !== undefined) {
      try {
        hash = hashKey(o.sha);
      } catch {
        throw new CliError(`--sha ${JSON.stringify(o.sha)} is not a digest`, 'write it as sha256:<64 hex>');
      }
    }
    const ids = await clientFor(o)
      .searchIndex({
        ...(hash ? { hash } : {}),
        ...(o.email ? { email: o.email } : {}),
        ...(o.subject ? { subject: o.subject } : {}),
      })
      .catch(unreachable);
    if (o.json) return printJson(ids);
    if (ids.length === 0) cliIo().stderr.write('sigil: no matching entries\n');
    for (const id of ids) cliIo().stdout.write(`${id}\n`);
  });

  withClient(
    log
      .command('verify')
      .description('verify an entry: signed entry timestamp, inclusion proof and the signed checkpoint')
      .option('--log-index <n>', 'entry index')
      .option('--uuid <id>', 'entry ID (80 hex) or leaf hash (64 hex)')
      .option('--public-key <file>', 'trusted log public key PEM (default: fetched from the log)'),
  ).action(async (o: ClientOpts & { logIndex?: string; uuid?: string; publicKey?: string }) => {
    const client = clientFor(o);
    const entry = await fetchEntry(client, o);
    const pem =
      o.publicKey !== undefined
        ? readTextFlag(o.publicKey, '--public-key', MAX_PUBLIC_KEY_BYTES)
        : await client.publicKey().catch(unreachable);
    const key = parsePublicKeyOrCertificate(pem).key;
    let v;
    try {
      v = verifyLogEntry(entry, key);
    } catch (e) {
      if (e instanceof SigilError)
        throw new CliError(`entry ${entry.logIndex} does not verify: ${e.message}`);
      throw e;
    }
    const rootHex = v.checkpoint.rootHash.toString('hex');
    if (o.json) {
      return printJson({
        verified: true,
        uuid: v.uuid,
        logIndex: v.logIndex,
        integratedTime: v.integratedTime,
        treeSize: v.checkpoint.size,
        rootHash: rootHex,
        origin: v.checkpoint.origin,
        checkpointSigner: v.checkpointSigner,
      });
    }
    cliIo().stdout.write(
      `Signed entry timestamp verified (integrated ${new Date(v.integratedTime * 1000).toISOString()})\n` +
        `Inclusion proof verified: entry ${v.logIndex} is in the tree of size ${v.checkpoint.size} with root ${rootHex}\n` +
        `Checkpoint verified: "${v.checkpoint.origin}" signed by ${v.checkpointSigner} with the log key\n` +
        `UUID: ${v.uuid}\n`,
    );
  });
}

/** Checks a signed tree head against the log key and the size and root reported beside it. */
function verifyTreeHead(th: InactiveShard, key: KeyObject, what: string): { signer: string; origin: string } {
  const note = parseSignedNote(th.signedTreeHead);
  const cp = parseCheckpoint(note.text);
  const hint = sha256(spkiDer(key)).subarray(0, 4);
  const signer = note.signatures.find((s) => s.keyHint.equals(hint) && verifyNote(note, s.name, hint, key));
  if (!signer) throw new CliError(`${what} does not verify with the log public key`);
  if (cp.size !== th.treeSize || cp.rootHash.toString('hex') !== th.rootHash) {
    throw new CliError(`${what} disagrees with the reported tree size or root hash`);
  }
  return { signer: signer.name, origin: cp.origin };
}

function clientFor(o: ClientOpts): RekorClient {
  checkUrl(o.logUrl, '--log-url');
  return new RekorClient(o.logUrl);
}

/** A PEM public key is well under this. */
const MAX_PUBLIC_KEY_BYTES = 64 * 1024;

function unreachable(e: unknown): never {
  if (e instanceof SigilError && e.code === 'UNAVAILABLE') throw new CliError(e.message, START_HINT);
  throw e;
}

async function fetchEntry(
  client: RekorClient,
  o: { logIndex?: string; uuid?: string },
): Promise<IdentifiedLogEntry> {
  if ((o.logIndex === undefined) === (o.uuid === undefined))
    throw new CliError('name the entry', 'pass exactly one of --log-index N or --uuid ID');
  let entry: IdentifiedLogEntry | undefined;
  if (o.logIndex !== undefined) {
    const index = intFlag(o.logIndex, '--log-index', 0, Number.MAX_SAFE_INTEGER);
    entry = await client.getEntryByIndex(index).catch(unreachable);
    if (!entry) throw new CliError(`no entry at index ${index}`, 'see the tree size with `sigil log info`');
  } else {
    const uuid = o.uuid!;
    if (!/^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{80})$/.test(uuid))
      throw new CliError('--uuid must be 64 or 80 hex characters');
    entry = await client.getEntryByUuid(uuid).catch(unreachable);
    if (!entry) throw new CliError(`no entry with UUID ${uuid}`);
  }
  return entry;
}

function withoutId(e: IdentifiedLogEntry): Omit<IdentifiedLogEntry, 'uuid'> {
  const { uuid: _uuid, ...rest } = e;
  return rest;
}

function describeEntry(e: IdentifiedLogEntry): string {
  let body: unknown;
  try {
    body = JSON.parse(fromBase64(e.body, 'body').toString('utf8'));
  } catch {
    body = e.body;
  }
  return (
    `LogID: ${e.logID}\nIndex: ${e.logIndex}\nIntegratedTime: ${new Date(e.integratedTime * 1000).toISOString()}\n` +
    `UUID: ${e.uuid}\nBody: ${JSON.stringify(body, null, 2)}\n`
  );
}

/** `log serve --api v2`: a Rekor v2 log (SQLite) beside, never inside, the v1 tree of the data directory. */
async function serveV2(
  o: Record<string, string | undefined>,
  tls: ReturnType<typeof readTlsFlags>,
  port: string | undefined,
): Promise<void> {
  if (o.store !== 'sqlite') throw new CliError('--api v2 serves from SQLite only (--store sqlite)');
  const server = await createRekorV2Server({
    dataDir: join(o.dataDir as string, 'rekor-v2'),
    ...(o.logKey ? { logKeyFile: o.logKey } : {}),
    host: o.host,
    port: intFlag(port ?? String(DEFAULT_V2_LOG_PORT), '--port', 0, 65535),
    bodyLimit: intFlag(o.bodyLimit, '--body-limit', 1024, 1024 * 1024 * 1024),
    ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
    ...(o.origin ? { origin: o.origin } : {}),
    maxInFlight: intFlag(o.maxInFlight, '--max-in-flight', 1, 1_000_000),
    ...(o.workers !== undefined ? { workers: intFlag(o.workers, '--workers', 0, 64) } : {}),
    ...(tls ? { tls } : {}),
    logLevel: cliIo().env.SIGIL_LOG_LEVEL ?? 'warn',
  });
  cliIo().stdout.write(
    `sigil log listening on ${server.url}\nsigil log: Rekor v2 API, checkpoint origin ${server.origin}, tlog-tiles at ${server.url}/checkpoint\n`,
  );
  closeOnSignals(() => server.close());
}
