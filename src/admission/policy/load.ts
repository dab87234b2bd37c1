import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { SigilError } from '../../errors/index.js';
import type { ParseContext } from './attestors.js';
import { isObject } from './fields.js';
import { parseKyvernoPolicy } from './kyverno.js';
import { parseIvpDocument } from '../ivp/spec.js';
import { POLICY_LIMITS, type ImagePolicy } from './types.js';

const KYVERNO_GROUPS = ['kyverno.io/v1', 'kyverno.io/v2beta1'];
const IVPOL_GROUPS = [
  'policies.kyverno.io/v1alpha1',
  'policies.kyverno.io/v1beta1',
  'policies.kyverno.io/v1',
];

/**
 * Parses one YAML text holding any number of documents. Kyverno policy documents become
 * ImagePolicies; other Kubernetes objects (a ConfigMap, a Namespace…) are skipped; a policy
 * document that is invalid throws INVALID_POLICY naming the file, policy and field.
 */
export function parsePolicyText(text: string, source: string, ctx: ParseContext): ImagePolicy[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) throw new SigilError('INVALID_POLICY', `${source}: not a YAML stream`);
  if (docs.length > POLICY_LIMITS.maxDocuments)
    throw new SigilError('INVALID_POLICY', `${source}: more than ${POLICY_LIMITS.maxDocuments} documents`);
  const out: ImagePolicy[] = [];
  docs.forEach((d, i) => {
    if (d.errors.length > 0) {
      throw new SigilError(
        'INVALID_POLICY',
        `${source}: document ${i + 1} is not valid YAML: ${d.errors[0]?.message ?? ''}`,
      );
    }
    let value: unknown;
    try {
      value = d.toJS({ maxAliasCount: 50 });
    } catch (e) {
      // yaml refuses alias bombs ("Excessive alias count") with a plain ReferenceError.
      throw new SigilError('INVALID_POLICY', `${source}: document ${i + 1}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (value === null || value === undefined) return;
    if (!isObject(value))
      throw new SigilError('INVALID_POLICY', `${source}: document ${i + 1} is not a mapping`);
    const api = String(value.apiVersion ?? '');
    const kind = String(value.kind ?? '');
    if (KYVERNO_GROUPS.includes(api) && (kind === 'ClusterPolicy' || kind === 'Policy')) {
      out.push(parseKyvernoPolicy(value, source, ctx));
    } else if (
      IVPOL_GROUPS.includes(api) &&
      (kind === 'ImageValidatingPolicy' || kind === 'NamespacedImageValidatingPolicy')
    ) {
      out.push(parseIvpDocument(value, source, ctx));
    } else if (api.startsWith('kyverno.io/') || api.startsWith('policies.kyverno.io/')) {
      throw new SigilError(
        'INVALID_POLICY',
        `${source}: document ${i + 1}: unsupported policy kind ${api} ${kind}`,
      );
    }
  });
  return out;
}

async function filesUnder(path: string): Promise<string[]> {
  const st = await stat(path).catch((e: unknown) => {
    throw new SigilError('INVALID_POLICY', `cannot read policy path ${path}: ${(e as Error).message}`);
  });
  if (!st.isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => /\.(ya?ml|json)$/i.test(n)).sort();
  return names.map((n) => join(path, n));
}

/** A policy file's name and text, as read from disk (what every webhook worker process parses). */
export interface PolicySource {
  source: string;
  text: string;
}

/** Reads every policy file under `paths` (`*.yaml`, `*.yml`, `*.json` in directories, not recursive). */
export async function readPolicySources(paths: readonly string[]): Promise<PolicySource[]> {
  const out: PolicySource[] = [];
  for (const p of paths) {
    for (const file of await filesUnder(p)) {
      const st = await stat(file);
      if (st.size > POLICY_LIMITS.maxFileBytes)
        throw new SigilError('INVALID_POLICY', `${file}: larger than ${POLICY_LIMITS.maxFileBytes} bytes`);
      out.push({ source: file, text: await readFile(file, 'utf8') });
    }
  }
  return out;
}

/** Parses policy texts in order; a policy defined twice is refused. */
export function parsePolicySources(sources: readonly PolicySource[], ctx: ParseContext): ImagePolicy[] {
  const out: ImagePolicy[] = [];
  const seen = new Set<string>();
  for (const { source, text } of sources) {
    for (const policy of parsePolicyText(text, source, ctx)) {
      const key = `${policy.kind}/${policy.namespace ?? ''}/${policy.name}`;
      if (seen.has(key))
        throw new SigilError('INVALID_POLICY', `${source}: ${policy.kind} ${policy.name} is defined twice`);
      seen.add(key);
      out.push(policy);
    }
  }
  return out;
}

/**
 * The one line printed when ClusterPolicy / Policy documents are loaded: Kyverno deprecated
 * them in 1.17 in favour of policies.kyverno.io/v1 ImageValidatingPolicy.
 */
export function deprecationNotice(policies: readonly ImagePolicy[]): string | undefined {
  const old = policies.filter((p) => p.kind === 'ClusterPolicy' || p.kind === 'Policy');
  if (old.length === 0) return undefined;
  const names = old.map((p) => `${p.kind} ${p.name}`).join(', ');
  return `${names}: kyverno.io/v1 verifyImages is deprecated since Kyverno 1.17 (removal planned for 1.20); write it as a policies.kyverno.io/v1 ImageValidatingPolicy (verifyImageSignatures(image, [attestors.x]) in validations)`;
}

/** Loads every policy from files and directories (`*.yaml`, `*.yml`, `*.json`, not recursive). */
export async function loadPolicies(paths: readonly string[], ctx: ParseContext): Promise<ImagePolicy[]> {
  return parsePolicySources(await readPolicySources(paths), ctx);
}
