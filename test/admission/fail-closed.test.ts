import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import { generateP256, publicKeyPem } from '../../src/crypto/index.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { buildTufRoot } from '../../src/tuf/index.js';
import { selfSignedCert } from '../rekor/helpers.js';
import { runSigil } from '../e2e/stack.js';

/**
 * Fail closed on what is not understood (issue 14): every field of Kyverno's ClusterPolicy
 * `verifyImages` rule and of the ImageValidatingPolicy (field lists: ADMISSION-SURVEY.md §1–2,
 * WIRE-2026.md §5) is either evaluated (the policy loads) or refused at load with INVALID_POLICY
 * naming the field: never silently dropped. Also the load-time refusals of findings 4, 7 and 9.
 */

type Doc = Record<string, unknown>;
const ctx = { hasTrustedRoot: true };
const PEM_KEY = publicKeyPem(generateP256().publicKey);
let PEM_CERT = '';
/** A TUF root.json (base64), as a policy's tuf.root.data holds one. */
const TUF_ROOT_B64 = buildTufRoot(generateP256().privateKey, new Date()).toString('base64');

before(async () => {
  PEM_CERT = (await selfSignedCert([{ type: 'dns', value: 'root.test' }])).pem;
});

const cpol = (): Doc => ({
  apiVersion: 'kyverno.io/v1',
  kind: 'ClusterPolicy',
  metadata: { name: 'p' },
  spec: {
    rules: [
      {
        name: 'r',
        match: { any: [{ resources: { kinds: ['Pod'] } }] },
        verifyImages: [
          {
            imageReferences: ['ghcr.io/org/*'],
            failureAction: 'Enforce',
            attestors: [
              {
                entries: [
                  {
                    keyless: {
                      subject: 'https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main',
                      issuer: 'https://token.actions.githubusercontent.com',
                    },
                  },
                ],
              },
            ],
          },
        ],
      },
    ],
  },
});

const ivpol = (): Doc => ({
  apiVersion: 'policies.kyverno.io/v1',
  kind: 'ImageValidatingPolicy',
  metadata: { name: 'iv' },
  spec: {
    matchConstraints: {
      resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
    },
    matchImageReferences: [{ glob: 'ghcr.io/org/*' }],
    attestors: [
      {
        name: 'ci',
        cosign: {
          keyless: {
            identities: [{ subject: 'https://x/ci.yml@refs/heads/main', issuer: 'https://issuer' }],
          },
        },
      },
    ],
  },
});

/** Walks `path` (dotted, numeric indices) and merges `value` into the object found there. */
function withField(doc: Doc, path: string, value: Doc): Doc {
  const copy = structuredClone(doc);
  let o: Doc = copy;
  for (const seg of path.split('.').filter(Boolean)) o = o[seg] as Doc;
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) delete o[k];
    else o[k] = v;
  }
  return copy;
}

function outcome(doc: Doc): 'loads' | string {
  try {
    parsePolicyText(JSON.stringify(doc), 'walk.yaml', ctx);
    return 'loads';
  } catch (e) {
    assert.ok(isSigilError(e, 'INVALID_POLICY'), String(e));
    return e.message;
  }
}

const SPEC = 'spec';
const RULE = 'spec.rules.0';
const FILTER = 'spec.rules.0.match.any.0';
const RES = 'spec.rules.0.match.any.0.resources';
const VI = 'spec.rules.0.verifyImages.0';
const SET = 'spec.rules.0.verifyImages.0.attestors.0';
const ENTRY = 'spec.rules.0.verifyImages.0.attestors.0.entries.0';
const KEYLESS = 'spec.rules.0.verifyImages.0.attestors.0.entries.0.keyless';

// [where, field, sample (merged there), expected]: 'loads' = evaluated (or without effect on an
// admission decision); 'refused' = INVALID_POLICY naming the field.
const CPOL_FIELDS: [string, string, () => Doc, 'loads' | 'refused'][] = [
  [SPEC, 'failurePolicy', () => ({ failurePolicy: 'Ignore' }), 'loads'],
  [SPEC, 'validationFailureAction', () => ({ validationFailureAction: 'Enforce' }), 'loads'],
  [
    SPEC,
    'validationFailureActionOverrides',
    () => ({ validationFailureActionOverrides: [{ action: 'Audit', namespaces: ['x'] }] }),
    'refused',
  ],
  [
    SPEC,
    'webhookConfiguration',
    () => ({ webhookConfiguration: { failurePolicy: 'Fail', timeoutSeconds: 5 } }),
    'loads',
  ],
  [
    SPEC,
    'matchConditions',
    () => ({ webhookConfiguration: { matchConditions: [{ name: 'a', expression: 'true' }] } }),
    'refused',
  ],
  [SPEC, 'webhookTimeoutSeconds', () => ({ webhookTimeoutSeconds: 5 }), 'loads'],
  [SPEC, 'applyRules', () => ({ applyRules: 'One' }), 'refused'],
  [SPEC, 'admission', () => ({ admission: false }), 'refused'],
  [SPEC, 'background', () => ({ background: false }), 'loads'],
  [SPEC, 'schemaValidation', () => ({ schemaValidation: false }), 'loads'],
  [SPEC, 'emitWarning', () => ({ emitWarning: true }), 'loads'],
  [SPEC, 'mutateExistingOnPolicyUpdate', () => ({ mutateExistingOnPolicyUpdate: false }), 'loads'],
  [SPEC, 'generateExisting', () => ({ generateExisting: false }), 'loads'],
  [SPEC, 'useServerSideApply', () => ({ useServerSideApply: false }), 'loads'],
  [SPEC, 'madeUpField', () => ({ madeUpField: 1 }), 'refused'],
  [RULE, 'exclude', () => ({ exclude: { any: [{ resources: { namespaces: ['ci'] } }] } }), 'loads'],
  [RULE, 'context', () => ({ context: [{ name: 'x', variable: { value: 1 } }] }), 'refused'],
  [
    RULE,
    'preconditions',
    () => ({ preconditions: { all: [{ key: 'a', operator: 'Equals', value: 'a' }] } }),
    'refused',
  ],
  [RULE, 'celPreconditions', () => ({ celPreconditions: [{ name: 'x', expression: 'true' }] }), 'refused'],
  [RULE, 'imageExtractors', () => ({ imageExtractors: { Pod: [{ path: '/x' }] } }), 'refused'],
  [RULE, 'mutate', () => ({ mutate: { patchStrategicMerge: { a: 1 } } }), 'refused'],
  [RULE, 'validate', () => ({ validate: { pattern: { a: 1 } } }), 'refused'],
  [RULE, 'generate', () => ({ generate: { kind: 'ConfigMap' } }), 'refused'],
  [RULE, 'skipBackgroundRequests', () => ({ skipBackgroundRequests: true }), 'loads'],
  [RULE, 'reportProperties', () => ({ reportProperties: { a: 'b' } }), 'loads'],
  [RES, 'name', () => ({ name: 'web-*' }), 'loads'],
  [RES, 'names', () => ({ names: ['web-*'] }), 'loads'],
  [RES, 'namespaces', () => ({ namespaces: ['prod'] }), 'loads'],
  [RES, 'annotations', () => ({ annotations: { team: 'a*' } }), 'loads'],
  [
    RES,
    'selector',
    () => ({
      selector: { matchLabels: { tier: 'web' }, matchExpressions: [{ key: 'a', operator: 'Exists' }] },
    }),
    'loads',
  ],
  [RES, 'namespaceSelector', () => ({ namespaceSelector: { matchLabels: { env: 'prod' } } }), 'refused'],
  [RES, 'operations', () => ({ operations: ['CREATE'] }), 'loads'],
  [FILTER, 'subjects', () => ({ subjects: [{ kind: 'User', name: 'alice' }] }), 'loads'],
  [FILTER, 'roles', () => ({ roles: ['ns:admin'] }), 'refused'],
  [FILTER, 'clusterRoles', () => ({ clusterRoles: ['cluster-admin'] }), 'refused'],
  [VI, 'type', () => ({ type: 'Notary' }), 'refused'],
  [VI, 'type', () => ({ type: 'SigstoreBundle' }), 'loads'],
  [VI, 'skipImageReferences', () => ({ skipImageReferences: ['ghcr.io/org/base:*'] }), 'loads'],
  [VI, 'attestations', () => ({ attestations: [{ type: 'https://slsa.dev/provenance/v1' }] }), 'refused'],
  [VI, 'repository', () => ({ repository: 'ghcr.io/org/sigs' }), 'refused'],
  [VI, 'cosignOCI11', () => ({ cosignOCI11: true }), 'refused'],
  [VI, 'mutateDigest', () => ({ mutateDigest: false }), 'loads'],
  [VI, 'verifyDigest', () => ({ verifyDigest: false }), 'loads'],
  [VI, 'required', () => ({ required: false }), 'loads'],
  [VI, 'useCache', () => ({ useCache: false }), 'loads'],
  [
    VI,
    'imageRegistryCredentials',
    () => ({ imageRegistryCredentials: { allowInsecureRegistry: true } }),
    'refused',
  ],
  [
    VI,
    'imageRegistryCredentials',
    () => ({
      imageRegistryCredentials: { secrets: ['regcred', 'team-a/pull'], allowInsecureRegistry: false },
    }),
    'loads',
  ],
  [
    VI,
    'imageRegistryCredentials',
    () => ({ imageRegistryCredentials: { providers: ['amazon'] } }),
    'refused',
  ],
  [VI, 'imageRegistryCredentials', () => ({ imageRegistryCredentials: { helpers: ['github'] } }), 'refused'],
  [VI, 'imageRegistryCredentials', () => ({ imageRegistryCredentials: { secrets: ['a/b/c'] } }), 'refused'],
  [VI, 'validate', () => ({ validate: { message: 'x', deny: {} } }), 'refused'],
  [VI, 'image', () => ({ image: 'ghcr.io/org/legacy:*' }), 'loads'],
  [VI, 'key', () => ({ key: PEM_KEY }), 'loads'],
  [VI, 'subject', () => ({ subject: 'https://x/ci.yml', issuer: 'https://i' }), 'loads'],
  [VI, 'roots', () => ({ roots: PEM_CERT, subject: 'https://x/ci.yml', issuer: 'https://i' }), 'loads'],
  [
    VI,
    'additionalExtensions',
    () => ({
      subject: 'https://x',
      issuer: 'https://i',
      additionalExtensions: { githubWorkflowTrigger: 'push' },
    }),
    'loads',
  ],
  [VI, 'annotations', () => ({ annotations: { env: 'prod' } }), 'refused'],
  [SET, 'count', () => ({ count: 1 }), 'loads'],
  [
    ENTRY,
    'keys',
    () => ({ keyless: undefined, keys: { publicKeys: PEM_KEY, signatureAlgorithm: 'sha256' } }),
    'loads',
  ],
  [ENTRY, 'kms', () => ({ keyless: undefined, keys: { kms: 'awskms:///x' } }), 'refused'],
  [ENTRY, 'certificates', () => ({ keyless: undefined, certificates: { cert: PEM_CERT } }), 'refused'],
  [
    ENTRY,
    'attestor',
    () => ({ keyless: undefined, attestor: { entries: [{ keys: { publicKeys: PEM_KEY } }] } }),
    'loads',
  ],
  [ENTRY, 'annotations', () => ({ annotations: { a: 'b' } }), 'refused'],
  [ENTRY, 'repository', () => ({ repository: 'ghcr.io/org/sigs' }), 'refused'],
  [KEYLESS, 'subjectRegExp', () => ({ subject: undefined, subjectRegExp: '^https://x/.*' }), 'loads'],
  [KEYLESS, 'issuerRegExp', () => ({ issuer: undefined, issuerRegExp: '^https://.*' }), 'loads'],
  [KEYLESS, 'roots', () => ({ roots: PEM_CERT }), 'loads'],
  [
    KEYLESS,
    'additionalExtensions',
    () => ({ additionalExtensions: { githubWorkflowTrigger: 'push' } }),
    'loads',
  ],
  [
    KEYLESS,
    'rekor',
    () => ({ rekor: { url: 'https://rekor.example', pubkey: PEM_KEY, ignoreTlog: false } }),
    'loads',
  ],
  [KEYLESS, 'ctlog', () => ({ ctlog: { ignoreSCT: false, pubkey: PEM_KEY } }), 'loads'],
  [KEYLESS, 'tsaCertChain', () => ({ ctlog: { tsaCertChain: PEM_CERT } }), 'refused'],
];

const IS = 'spec';
const IA = 'spec.attestors.0.cosign';
const IK = 'spec.attestors.0.cosign.keyless';
const IMC = 'spec.matchConstraints';
const IVP_FIELDS: [string, string, () => Doc, 'loads' | 'refused'][] = [
  // Evaluated since issue 19: the policy is compiled for the CEL engine (src/admission/ivp).
  [IS, 'validations', () => ({ validations: [{ expression: 'true' }] }), 'loads'],
  [IS, 'matchConditions', () => ({ matchConditions: [{ name: 'a', expression: 'true' }] }), 'refused'],
  [IS, 'variables', () => ({ variables: [{ name: 'a', expression: '1' }] }), 'refused'],
  [IS, 'images', () => ({ images: [{ name: 'a', expression: 'object.x' }] }), 'refused'],
  [IS, 'credentials', () => ({ credentials: { allowInsecureRegistry: true } }), 'refused'],
  [IS, 'credentials', () => ({ credentials: { secrets: ['regcred'] } }), 'loads'],
  [IS, 'credentials', () => ({ credentials: { providers: ['google'] } }), 'refused'],
  [IS, 'autogen', () => ({ autogen: { podControllers: { controllers: ['deployments'] } } }), 'refused'],
  [IS, 'auditAnnotations', () => ({ auditAnnotations: [{ key: 'a', valueExpression: '"x"' }] }), 'loads'],
  [IS, 'failurePolicy', () => ({ failurePolicy: 'Ignore' }), 'loads'],
  [IS, 'validationActions', () => ({ validationActions: ['Audit'] }), 'loads'],
  [IS, 'webhookConfiguration', () => ({ webhookConfiguration: { timeoutSeconds: 5 } }), 'loads'],
  [IS, 'evaluation', () => ({ evaluation: { mode: 'JSON' } }), 'refused'],
  [IS, 'attestations', () => ({ attestations: [{ name: 'a', intoto: { type: 'x' } }] }), 'refused'],
  [
    IS,
    'validationConfigurations',
    () => ({ validationConfigurations: { mutateDigest: false, verifyDigest: false, required: true } }),
    'loads',
  ],
  [IS, 'madeUpField', () => ({ madeUpField: 1 }), 'refused'],
  [IMC, 'namespaceSelector', () => ({ namespaceSelector: { matchLabels: { env: 'prod' } } }), 'refused'],
  [IMC, 'objectSelector', () => ({ objectSelector: { matchLabels: { tier: 'web' } } }), 'loads'],
  [
    IMC,
    'excludeResourceRules',
    () => ({
      excludeResourceRules: [
        { apiGroups: [''], apiVersions: ['v1'], operations: ['*'], resources: ['pods'] },
      ],
    }),
    'refused',
  ],
  [IMC, 'matchPolicy', () => ({ matchPolicy: 'Exact' }), 'loads'],
  [IA, 'tuf', () => ({ tuf: { mirror: 'https://tuf.example' } }), 'refused'],
  [IA, 'trustedRoot', () => ({ trustedRoot: { value: '{}' } }), 'refused'],
  [IA, 'annotations', () => ({ annotations: { a: 'b' } }), 'refused'],
  // Where signatures are looked up is read by the CEL engine only (per attestor).
  [IA, 'source', () => ({ source: { repository: 'ghcr.io/sigs' } }), 'refused'],
  [IA, 'certificate', () => ({ keyless: undefined, certificate: { cert: { value: PEM_CERT } } }), 'loads'],
  [
    IA,
    'certificate',
    () => ({
      keyless: undefined,
      certificate: { cert: { value: PEM_CERT }, certChain: { value: PEM_CERT } },
    }),
    'loads',
  ],
  [IA, 'certificate', () => ({ keyless: undefined, certificate: { cert: { expression: 'x' } } }), 'refused'],
  [IA, 'kms', () => ({ keyless: undefined, key: { kms: 'awskms:///alias/x' } }), 'refused'],
  [IA, 'expression', () => ({ keyless: undefined, key: { expression: 'variables.key' } }), 'refused'],
  [
    IA,
    'ctlog',
    () => ({ ctlog: { rekorPubKey: PEM_KEY, ctLogPubKey: PEM_KEY, insecureIgnoreTlog: true } }),
    'loads',
  ],
  [
    'spec.attestors.0',
    'notary',
    () => ({ cosign: undefined, notary: { certs: { value: PEM_CERT } } }),
    'refused',
  ],
  [IA, 'key', () => ({ keyless: undefined, key: { data: PEM_KEY, hashAlgorithm: 'sha256' } }), 'loads'],
  [IA, 'ctlog', () => ({ ctlog: { url: 'https://rekor.example', insecureIgnoreSCT: false } }), 'loads'],
  [IA, 'tsaCertChain', () => ({ ctlog: { tsaCertChain: PEM_CERT } }), 'loads'],
  [IA, 'tsaCertChain', () => ({ ctlog: { tsaCertChain: PEM_KEY } }), 'refused'],
  [IK, 'roots', () => ({ roots: PEM_CERT }), 'loads'],
  [IK, 'additionalExtensions', () => ({ additionalExtensions: { githubWorkflowTrigger: 'push' } }), 'loads'],
];

// The same walk over an IVP with CEL `validations` (issue 19): evaluated by src/admission/ivp, so
// the CEL fields, attestations, autogen, JSON mode and excludeResourceRules now load; what the
// ivp/ engine still does not evaluate stays refused, naming the field.
const TWO = 'images.containers.map(i, verifyImageSignatures(i, [attestors.ci])).all(e, e > 0)';
const celIvp = (): Doc => withField(ivpol(), IS, { validations: [{ expression: TWO }] });
const CEL_EVALUATED = new Set([
  'validations',
  'matchConditions',
  'variables',
  'images',
  'autogen',
  'evaluation',
  'attestations',
  'excludeResourceRules',
  'source',
]);
const CEL_IVP_FIELDS: [string, string, () => Doc, 'loads' | 'refused'][] = [
  ...IVP_FIELDS.map(([w, f, v, want]): [string, string, () => Doc, 'loads' | 'refused'] => [
    w,
    f,
    f === 'validations' ? () => ({ validations: [{ expression: TWO, message: 'unsigned' }] }) : v,
    CEL_EVALUATED.has(f) ? 'loads' : want,
  ]),
  [IS, 'credentials', () => ({ credentials: { secrets: ['pull', 'team-a/pull'] } }), 'loads'],
  [IS, 'attestations', () => ({ attestations: [{ name: 'a', referrer: { type: 'x' } }] }), 'loads'],
  [
    IS,
    'attestations',
    () => ({ attestations: [{ name: 'a', referrer: { type: 'x', madeUp: 1 } }] }),
    'refused',
  ],
  [
    IA,
    'source',
    () => ({
      source: { repository: 'ghcr.io/org/sigs', tagPrefix: 'v2-', PullSecrets: [{ name: 'sig-pull' }] },
    }),
    'loads',
  ],
  [IA, 'source', () => ({ source: { repository: 'ghcr.io/sigs', madeUp: 1 } }), 'refused'],
  [IA, 'tuf', () => ({ tuf: { mirror: 'https://tuf.example', root: { data: TUF_ROOT_B64 } } }), 'loads'],
  [IA, 'tuf', () => ({ tuf: { mirror: 'https://tuf.example' } }), 'refused'],
  [IA, 'tuf', () => ({ tuf: { root: { data: TUF_ROOT_B64, path: '/r.json' } } }), 'refused'],
  [IA, 'tuf', () => ({ tuf: { root: { data: 'not base64!' } } }), 'refused'],
  [IA, 'tuf', () => ({ tuf: { root: { data: Buffer.from('{}').toString('base64') } } }), 'refused'],
  [IA, 'tuf', () => ({ tuf: { mirror: 'file:///etc', root: { data: TUF_ROOT_B64 } } }), 'refused'],
  [IA, 'tuf', () => ({ tuf: { root: { data: TUF_ROOT_B64 }, madeUp: 1 } }), 'refused'],
  [IA, 'PullSecrets', () => ({ source: { PullSecrets: [{ name: 'ns/x' }] } }), 'refused'],
  [
    IS,
    'attestors',
    () => ({ attestors: [{ name: 'n', notary: { certs: { value: PEM_CERT } } }] }),
    'refused',
  ],
  [IS, 'validations', () => ({ validations: [{ expression: TWO, madeUp: 1 }] }), 'refused'],
  [IS, 'validations', () => ({ validations: [{ expression: 'images.containers.' }] }), 'refused'],
  [
    IMC,
    'resourceRules',
    () => ({
      resourceRules: [
        { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], madeUp: 1 },
      ],
    }),
    'refused',
  ],
];

describe('every schema field is evaluated or refused at load', () => {
  for (const [kind, base, fields] of [
    ['ClusterPolicy', cpol, CPOL_FIELDS],
    ['ImageValidatingPolicy', ivpol, IVP_FIELDS],
    ['ImageValidatingPolicy with CEL validations', celIvp, CEL_IVP_FIELDS],
  ] as const) {
    it(`${kind}: the base policy loads`, () => assert.equal(outcome(base()), 'loads'));
    for (const [where, field, sample, want] of fields) {
      it(`${kind} ${where}: ${field} → ${want}`, () => {
        const got = outcome(withField(base(), where, sample()));
        if (want === 'loads') assert.equal(got, 'loads');
        else assert.match(got, new RegExp(`\\b${field}\\b`), `refusal must name ${field}: ${got}`);
      });
    }
  }
});

describe('load-time refusals (findings 4, 7, 9)', () => {
  const refused = (doc: Doc, re: RegExp): void => assert.match(outcome(doc), re);
  it('4: an ImageValidatingPolicy with validations is compiled for the CEL engine (never half-read)', () => {
    const expr =
      'images.containers.map(i, verifyImageSignatures(i, [attestors.ci, attestors.b])).all(e, e > 1)';
    // A syntax error refuses the policy naming the expression and its position.
    refused(
      withField(ivpol(), IS, { validations: [{ expression: expr.slice(0, -3) }] }),
      /spec\.validations\[0\]\.expression/,
    );
    const [p] = parsePolicyText(JSON.stringify(celIvp()), 'p.yaml', ctx);
    assert.equal(p!.rules.length, 0, 'no ClusterPolicy-style rule (any one attestor would admit)');
    assert.equal(p!.ivp?.programs.pod.validations.length, 1);
  });
  it('7: a keyless identity without issuer is refused; issuerRegExp ".*" says any issuer on purpose', () => {
    refused(withField(cpol(), KEYLESS, { issuer: undefined }), /keyless: an issuer is required/);
    assert.equal(outcome(withField(cpol(), KEYLESS, { issuer: undefined, issuerRegExp: '.*' })), 'loads');
    refused(
      withField(ivpol(), IK, { identities: [{ subject: 'https://x/ci.yml' }] }),
      /identities\[0\]: an issuer is required/,
    );
  });
  it('7: URI-shaped subject patterns are flagged for URI SANs only', () => {
    const [p] = parsePolicyText(JSON.stringify(cpol()), 'p.yaml', ctx);
    const a = p!.rules[0]!.attestorSets[0]!.entries[0]!.attestor;
    assert.equal(a.kind === 'keyless' && a.identities[0]!.subjectIsUri, true);
    const email = withField(cpol(), KEYLESS, { subject: 'ci@example.com' });
    const e = parsePolicyText(JSON.stringify(email), 'p.yaml', ctx)[0]!.rules[0]!.attestorSets[0]!.entries[0]!
      .attestor;
    assert.equal(e.kind === 'keyless' && e.identities[0]!.subjectIsUri, undefined);
  });
  for (const kind of ['pods', 'Pods', 'v1/pods', 'apps/v1/Pod', 'Service', 'Pod/status']) {
    it(`9: kinds: [${kind}] is refused (it would match nothing)`, () => {
      refused(withField(cpol(), RES, { kinds: [kind] }), /kinds\[0\]: /);
    });
  }
  for (const kind of [
    'Pod',
    'v1/Pod',
    'apps/v1/Deployment',
    'Pod/ephemeralcontainers',
    '*',
    '*/*',
    'batch/*/Job',
  ]) {
    it(`9: kinds: [${kind}] loads`, () =>
      assert.equal(outcome(withField(cpol(), RES, { kinds: [kind] })), 'loads'));
  }
  it('9: an upper-case registry host in a pattern is refused', () => {
    refused(
      withField(cpol(), VI, { imageReferences: ['GHCR.io/org/*'] }),
      /imageReferences\[0\]: registry host GHCR\.io/,
    );
    refused(withField(cpol(), VI, { skipImageReferences: ['Ghcr.io/org/x:*'] }), /skipImageReferences\[0\]/);
    refused(withField(ivpol(), IS, { matchImageReferences: [{ glob: 'GHCR.IO/*' }] }), /glob: registry host/);
  });
  it('9: IVPOL resources must be plural lower-case names of a kind sigil verifies', () => {
    const rr = (resources: string[]) => ({
      resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources }],
    });
    refused(withField(ivpol(), IMC, rr(['Pods'])), /resources\[0\]/);
    refused(withField(ivpol(), IMC, rr(['deployments'])), /resources\[0\]/); // apps, not core
    assert.equal(outcome(withField(ivpol(), IMC, rr(['pods', 'replicationcontrollers']))), 'loads');
    // The same under CEL validations (ivp/ engine): Kubernetes' resource names, plural lower-case.
    refused(withField(celIvp(), IMC, rr(['Pods'])), /resources\[0\]/);
    refused(withField(celIvp(), IMC, rr(['services'])), /resources\[0\]/);
    refused(
      withField(celIvp(), IS, { matchImageReferences: [{ glob: 'GHCR.IO/*' }] }),
      /glob: registry host/,
    );
    refused(
      withField(celIvp(), IK, { identities: [{ subject: 'https://x/ci.yml' }] }),
      /identities\[0\]: an issuer is required/,
    );
    assert.equal(outcome(withField(celIvp(), IMC, rr(['pods', 'replicationcontrollers']))), 'loads');
  });
});

describe('the refusals reach the CLI (the loader `sigil admission serve` and `sigil policy test` share)', () => {
  it('sigil policy test refuses an ImageValidatingPolicy field the CEL engine does not evaluate, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-fail-closed-'));
    const policy = join(dir, 'ivpol.json');
    const resource = join(dir, 'pod.json');
    writeFileSync(
      policy,
      JSON.stringify(withField(celIvp(), IS, { credentials: { providers: ['google'] } })),
    );
    writeFileSync(
      resource,
      JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {} }),
    );
    const r = await runSigil(['policy', 'test', '--policy', policy, '--resource', resource]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^sigil: error: invalid policy: .*ivpol\.json: ImageValidatingPolicy iv: spec\.credentials\.providers: /m,
    );
  });
});
