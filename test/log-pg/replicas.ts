import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { ROOT } from '../rekor/helpers.js';
import { sql } from './helpers.js';

export interface Replica {
  proc: ChildProcess;
  url: string;
  stderr(): string;
}

/** `sigil log migrate` through the real CLI. */
export function migrateCli(databaseUrl: string): string {
  const r = spawnSync(process.execPath, ['bin/sigil.js', 'log', 'migrate', '--database-url', databaseUrl], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`migrate failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Spawns one `sigil log serve --store postgres` replica and waits until it listens. */
export async function spawnReplica(
  databaseUrl: string,
  dataDir: string,
  extra: string[] = [],
): Promise<Replica> {
  const proc = spawn(
    process.execPath,
    [
      'bin/sigil.js',
      'log',
      'serve',
      '--store',
      'postgres',
      '--database-url',
      databaseUrl,
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--workers',
      '0',
      '--public-url',
      'http://sigil-log.test',
      ...extra,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SIGIL_LOG_LEVEL: 'silent' } },
  );
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`replica did not start: ${err}`)), 60_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^sigil log listening on (https?:\/\/\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`replica exited with ${code}: ${err}`));
    });
  });
  return { proc, url, stderr: () => err };
}

/** The pid of the process holding the sequencer lock (from its connection's application_name), if any. */
export async function sequencerPid(databaseUrl: string): Promise<number | undefined> {
  const rows = await sql<{ name: string }>(
    databaseUrl,
    `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()`,
  );
  const m = rows.map((r) => /^sigil-log-sequencer:(\d+)$/.exec(r.name)).find((x) => x);
  return m ? Number(m[1]) : undefined;
}
