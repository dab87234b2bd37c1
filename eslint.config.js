import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The import order of ARCHITECTURE.md, lower to higher: a folder may import only folders below it.
 * `errors` and `server` are shared ground (the pure cores may not use `server`; `server` stands on
 * `crypto` for the one JSON depth scan). `log` sits below
 * `ca`: the CT log is a log personality, as `rekor` is.
 */
const ORDER = [
  ['errors'],
  ['crypto'],
  // server: the shared Fastify set-up; http: the one bounded client exchange (fetchJson)
  ['server', 'http'],
  ['merkle', 'x509'],
  ['timestamp'],
  ['bundle'],
  ['verify'],
  ['oidc', 'log', 'tuf'],
  ['ca', 'rekor'],
  ['rekor-v2'],
  ['oci'],
  ['sign'],
  ['admission', 'monitor'],
  // the demo is handed the CLI's entry point (main(argv, io)) by `sigil demo`; it imports no CLI code
  ['demo'],
  ['cli'],
  // the sigstore-conformance entrypoint drives the CLI's verification and signing
  ['conformance'],
];
const CYCLE_ALLOWED = new Set();
const PURE = ['crypto', 'merkle', 'x509', 'timestamp', 'bundle', 'verify'];
/** What each folder may not import, beyond the order: admission never reaches the CA, the log or the signer. */
const ALSO_FORBIDDEN = {
  admission: ['ca', 'log', 'rekor', 'rekor-v2', 'sign'],
  ...Object.fromEntries(PURE.map((f) => [f, ['server', 'http']])),
};

/** Known exceptions to the order, each to be moved (none at present). */
const EXCEPTIONS = {};

const forbiddenPattern = (folders, except = []) => ({
  regex: `^(\\.\\./)+${except.map((e) => `(?!${e}$)`).join('')}(${folders.join('|')})(/|$)`,
  message: 'imports go one way, lower to higher (ARCHITECTURE.md): this folder may not import that one',
});

const importOrder = ORDER.flatMap((layer, i) =>
  layer.map((folder) => {
    const higher = ORDER.slice(i + 1)
      .flat()
      .concat(ALSO_FORBIDDEN[folder] ?? []);
    // Folders of the same layer do not import each other either (no cycles across a layer).
    const peers = CYCLE_ALLOWED.has(folder) ? [] : layer.filter((f) => f !== folder);
    const folders = [...new Set([...higher, ...peers])];
    const patterns = folders.length > 0 ? [forbiddenPattern(folders, EXCEPTIONS[folder])] : [];
    return {
      files: [`src/${folder}/**/*.ts`],
      rules: { 'no-restricted-imports': ['error', { patterns }] },
    };
  }),
);

/** Storage drivers stand below the log: they import only store/types, log/types, merkle and errors. */
const storeBlock = {
  files: ['src/log/store/**/*.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          forbiddenPattern([
            ...ORDER.slice(ORDER.findIndex((l) => l.includes('log'))).flat(),
            'server',
            'http',
            'bundle',
            'verify',
          ]),
          {
            regex: '^(\\.\\./)+(core|reader|replicated|limits|hash-source|tree-cache|index)\\.js$',
            message:
              'a log store may not import the log it sits under (LAYOUT-REVIEW: store/ is the ground floor)',
          },
        ],
      },
    ],
  },
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.node24/',
      '.ci-node24/',
      'native/build/',
      'web/vendor/',
      '.sigil/',
      'coverage/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
        setImmediate: 'readonly',
        performance: 'readonly',
        document: 'readonly',
        window: 'readonly',
        crypto: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  ...importOrder,
  storeBlock,
);
