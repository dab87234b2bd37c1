import type { Command } from 'commander';
import { createOidcServer } from '../oidc/dev-issuer.js';
import { parseClaimArgs } from '../oidc/dev-claims.js';
import { closeOnSignals } from '../server/index.js';
import { isSigilError } from '../errors/index.js';
import { fetchJson } from '../http/index.js';
import { CliError } from './output.js';
import { cliIo } from './io.js';
import { parsePort, readTlsFlags, withListenFlags, withTlsFlags } from './flags.js';

export const DEFAULT_OIDC_PORT = 8080;
export const DEFAULT_OIDC_URL = `http://127.0.0.1:${DEFAULT_OIDC_PORT}`;

/** A dev token and its JSON wrapping are far below this. */
const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;

export function register(program: Command): void {
  const oidc = program
    .command('oidc')
    .description('the dev OIDC issuer (GitHub-Actions-shaped tokens on loopback)');
  withListenFlags(withTlsFlags(oidc.command('serve')), {
    port: DEFAULT_OIDC_PORT,
    dataDir: '.sigil',
    dataDirHelp: 'where the signing key is kept',
  })
    .description('serve discovery, JWKS, POST /token and the Actions token-request endpoint')
    .option('--public-url <url>', 'issuer URL put in tokens (default: the listening URL)')
    .option('--actions-request-token <token>', 'only accept this bearer token on /actions/token')
    .option('--alg <alg>', 'RS256 or ES256', 'RS256')
    .action(async (o: Record<string, string | undefined>) => {
      if (o.alg !== 'RS256' && o.alg !== 'ES256')
        throw new CliError(`unsupported --alg ${o.alg}`, 'use RS256 or ES256');
      const tls = readTlsFlags(o);
      const server = await createOidcServer({
        dataDir: o.dataDir as string,
        host: o.host,
        port: parsePort(o.port),
        alg: o.alg,
        ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
        ...(o.actionsRequestToken ? { actionsRequestToken: o.actionsRequestToken } : {}),
        ...(tls ? { tls } : {}),
      });
      cliIo().stdout.write(`sigil oidc: issuer ${server.issuer} listening on ${server.url}\n`);
      closeOnSignals(() => server.close());
    });
  oidc
    .command('token')
    .description('print a token minted by the dev issuer')
    .option('--issuer-url <url>', 'dev issuer base URL (default $SIGIL_OIDC_URL or ' + DEFAULT_OIDC_URL + ')')
    .option(
      '--claim <key=value>',
      'override a claim (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .action(async (o: { issuerUrl?: string; claim: string[] }) => {
      const base = (o.issuerUrl ?? cliIo().env.SIGIL_OIDC_URL ?? DEFAULT_OIDC_URL).replace(/\/$/, '');
      let claims: Record<string, unknown>;
      try {
        claims = parseClaimArgs(o.claim);
      } catch (e) {
        throw new CliError((e as Error).message, 'write claims as --claim key=value');
      }
      const res = await fetchJson(`${base}/token`, {
        timeoutMs: 10_000,
        maxBytes: MAX_TOKEN_ANSWER_BYTES,
        what: `the dev issuer at ${base}`,
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(claims),
        },
      }).catch((e: unknown) => {
        if (isSigilError(e) && /answered more than/.test(e.message)) throw new CliError(e.message);
        throw new CliError(
          `cannot reach the dev issuer at ${base}`,
          'start it with `sigil oidc serve` or `sigil up`',
        );
      });
      const body = (res.json ?? {}) as { token?: unknown; message?: unknown };
      if (res.status < 200 || res.status > 299 || typeof body.token !== 'string' || body.token === '')
        throw new CliError(
          `dev issuer answered ${res.status}: ${typeof body.message === 'string' ? body.message : ''}`,
        );
      cliIo().stdout.write(`${body.token}\n`);
    });
}
