import type { IssuerConfig } from './config.js';

/**
 * Compiles a wildcard issuer pattern as Fulcio does: every `*` stands for one label fragment
 * [-_a-zA-Z0-9]+, everything else is literal, and the whole is anchored. A URL that merely
 * contains or starts with an allowed one never matches.
 */
export function compileIssuerPattern(pattern: string): RegExp {
  const parts = pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return new RegExp(`^${parts.join('[-_a-zA-Z0-9]+')}$`);
}

export interface IssuerMatcher {
  match(iss: string): IssuerConfig | undefined;
}

/** Exact issuers are looked up by equality first; wildcard patterns are tried in configuration order. */
export function createIssuerMatcher(issuers: readonly IssuerConfig[]): IssuerMatcher {
  const exact = new Map<string, IssuerConfig>();
  const patterns: { re: RegExp; cfg: IssuerConfig }[] = [];
  for (const cfg of issuers) {
    if (cfg.wildcard) patterns.push({ re: compileIssuerPattern(cfg.issuerUrl), cfg });
    else if (!exact.has(cfg.issuerUrl)) exact.set(cfg.issuerUrl, cfg);
  }
  return {
    match(iss) {
      const hit = exact.get(iss);
      if (hit) return hit;
      if (iss.length > 1024) return undefined;
      return patterns.find((p) => p.re.test(iss))?.cfg;
    },
  };
}
