import type { FailureAction, FailurePolicy } from './policy/types.js';
import type { IvpResult } from './ivp/evaluate.js';

export type ResultStatus = 'pass' | 'fail' | 'error' | 'skip';

/** The outcome of one rule for one container image. */
export interface ImageResult {
  policy: string;
  rule: string;
  /** The image as written in the object. */
  image: string;
  /** JSON pointer of the image field. */
  pointer: string;
  status: ResultStatus;
  message: string;
  /** The digest that was verified (pass only). */
  digest?: string;
  /** For pass: the value to pin the field to when the rule mutates digests. */
  pinned?: string;
  cached?: boolean;
  failureAction: FailureAction;
  failurePolicy: FailurePolicy;
  mutateDigest: boolean;
}

export interface JsonPatchOp {
  op: 'replace';
  path: string;
  value: string;
}

/** Versioned media type of a Decision kept as JSON (CLI output, logs). */
export const DECISION_MEDIA_TYPE = 'application/vnd.sigil.admission-decision.v1+json';

export interface Decision {
  allowed: boolean;
  /** Kyverno-shaped block message (denials only). */
  message?: string;
  warnings: string[];
  /** Digest pins (mutate only, allowed only); empty when nothing changes. */
  patch: JsonPatchOp[];
  results: ImageResult[];
  /** One per ImageValidatingPolicy that applied. */
  ivpResults?: IvpResult[];
  /** Why nothing was checked, when nothing was (excluded namespace, other kind, DELETE…). */
  skippedBecause?: string;
}

export interface ResourceId {
  kind: string;
  namespace: string;
  name: string;
}

const MAX_WARNINGS = 32;
const MAX_WARNING_LENGTH = 1024;

function blocks(r: ImageResult): boolean {
  return (
    (r.status === 'fail' && r.failureAction === 'Enforce') ||
    (r.status === 'error' && r.failurePolicy === 'Fail')
  );
}

/**
 * Kyverno's GetBlockedMessages shape: two newlines, `resource Kind/ns/name was blocked due to the
 * following policies ` (trailing space), a blank line, then policy → rule → message as an
 * indented map. Several failing images of one rule are joined with `; `.
 */
export function blockedMessage(res: ResourceId, blocking: readonly ImageResult[]): string {
  const byPolicy = new Map<string, Map<string, string[]>>();
  for (const r of blocking) {
    const rules = byPolicy.get(r.policy) ?? new Map<string, string[]>();
    byPolicy.set(r.policy, rules);
    const msgs = rules.get(r.rule) ?? [];
    rules.set(r.rule, msgs);
    if (!msgs.includes(r.message)) msgs.push(r.message);
  }
  const lines: string[] = [];
  for (const [policy, rules] of byPolicy) {
    lines.push(`${policy}:`);
    for (const [rule, msgs] of rules) lines.push(`  ${rule}: ${msgs.join('; ')}`);
  }
  return `\n\nresource ${res.kind}/${res.namespace}/${res.name} was blocked due to the following policies \n\n${lines.join('\n')}\n`;
}

function warningFor(r: ImageResult): string | undefined {
  const text = (s: string): string =>
    s.length > MAX_WARNING_LENGTH ? `${s.slice(0, MAX_WARNING_LENGTH - 1)}…` : s;
  if (r.status === 'fail' && r.failureAction === 'Audit')
    return text(`policy ${r.policy}.${r.rule}: ${r.message} (audit: admitted)`);
  if (r.status === 'error' && r.failurePolicy === 'Ignore') {
    return text(`policy ${r.policy}.${r.rule}: ${r.message} (failurePolicy Ignore: admitted unverified)`);
  }
  if (r.status === 'skip') return text(r.message);
  return undefined;
}

/**
 * Combines per-image results into the admission answer: deny when an Enforce rule failed or a
 * rule errored under failurePolicy Fail; audit failures, ignored errors and skips become
 * warnings. Patches pin each verified tag to its verified digest, once per field.
 */
export function decide(res: ResourceId, results: readonly ImageResult[], mutate: boolean): Decision {
  const blocking = results.filter(blocks);
  const warnings = [...new Set(results.map(warningFor).filter((w): w is string => w !== undefined))].slice(
    0,
    MAX_WARNINGS,
  );
  if (blocking.length > 0) {
    return {
      allowed: false,
      message: blockedMessage(res, blocking),
      warnings,
      patch: [],
      results: [...results],
    };
  }
  const patch: JsonPatchOp[] = [];
  if (mutate) {
    const seen = new Set<string>();
    for (const r of results) {
      if (r.status !== 'pass' || !r.mutateDigest || !r.pinned || seen.has(r.pointer)) continue;
      seen.add(r.pointer);
      patch.push({ op: 'replace', path: r.pointer, value: r.pinned });
    }
  }
  return { allowed: true, warnings, patch, results: [...results] };
}
