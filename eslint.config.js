// ESLint flat config: typescript-eslint's recommended rules everywhere, React's hook rules for the two web apps,
// and Prettier's config last so that formatting is Prettier's alone (`npm run lint` runs both).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Refuses, in `files`, any import of the modules and folders named in `above` (each as `<from><name>.js` and
 * `<from><name>/*`): the layers above theirs.
 */
function importsOnlyBelow({ files, ignores = [], from, above, message }) {
  const group = above.flatMap((name) => [`${from}${name}.js`, `${from}${name}/*`]);
  return { files, ignores, rules: { 'no-restricted-imports': ['error', { patterns: [{ group, message }] }] } };
}

export default tseslint.config(
  {
    ignores: ['**/node_modules/', '**/dist/', '**/__generated__/', 'data/', 'coverage/', 'test-results/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Unused bindings are mistakes, except those named to be ignored (`_parent`, `{ http: _http, ...rest }`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // Tests read GraphQL responses as plain JSON whose shape their assertions check.
    files: ['server/test/**', 'client/test/**', 'client/e2e/**', 'explorer/e2e/**', 'bench/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['client/**/*.{ts,tsx}', 'explorer/**/*.{ts,tsx}'],
    ignores: ['client/test/server/**', 'client/e2e/**', 'explorer/e2e/**', '**/vite.config.ts'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: reactHooks.configs.recommended.rules,
  },
  // Layers import downward (docs/architecture.md, "Layers"): the event core knows rows, cursors and pub/sub, and
  // nothing of GraphQL, loaders, domains or transports; the storage layer knows nothing of the layers above it.
  importsOnlyBelow({
    files: ['server/src/events/**/*.ts'],
    from: '../',
    above: ['app', 'schema', 'context', 'loaders', 'metrics', 'domains', 'subscriptions', 'http', 'realtime'],
    message: 'events/ imports downward only: rows, cursors, channels and pub/sub (docs/architecture.md).',
  }),
  importsOnlyBelow({
    files: ['server/src/db/**/*.ts'],
    // The database command (migrate, seed, prune) is an entry point, not a layer.
    ignores: ['server/src/db/cli.ts'],
    from: '**/',
    above: ['app', 'schema', 'context', 'loaders', 'events', 'domains', 'subscriptions', 'http', 'realtime'],
    message: 'db/ is the storage layer: it imports nothing of the layers above it (docs/architecture.md).',
  }),
  importsOnlyBelow({
    files: ['server/src/context.ts'],
    from: './',
    // The subscription code that makes or reads contexts; the context names the groups through its `Delivery`.
    above: ['subscriptions/groups', 'subscriptions/streams', 'subscriptions/fields', 'subscriptions/signalField'],
    message:
      'context.ts imports no delivery groups or streams (they make contexts): it names them through `Delivery` and subscriptions/sources.ts (docs/architecture.md).',
  }),
  prettier,
  {
    // Prettier wraps code at 120; comments are ours to wrap. GraphQL documents and messages in strings may run longer.
    // After Prettier's config, which turns max-len off.
    rules: {
      'max-len': [
        'error',
        { code: 120, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true },
      ],
    },
  },
);
