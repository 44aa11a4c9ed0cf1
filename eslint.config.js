// Lint rules: typescript-eslint's recommended type-aware set, plus the one architectural
// line DESIGN.md asks for: the protocol core (src/oauth) never imports the web framework or SQL.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'var/**', 'test-output/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/oauth/**/*.ts'],
    rules: {
      // A file's own imports only; test/architecture/framework-free.test.ts proves the same
      // of everything a src/oauth file loads, directly or transitively.
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['fastify', '@fastify/*'], message: 'src/oauth is framework-free (DESIGN.md).' },
          { group: ['kysely', 'better-sqlite3', 'pg'], message: 'src/oauth talks to storage through src/store ports (DESIGN.md).' },
          { group: ['**/http/**'], message: 'src/oauth is framework-free (DESIGN.md): the HTTP layer calls the core, not the other way round.' },
          {
            group: ['**/store/**'],
            message: 'src/oauth names storage only through its own ports and model (oauth/ports.ts, oauth/model.ts), not even a store type.',
          },
        ],
      }],
    },
  },
  {
    files: ['src/views/**/*.ts'],
    rules: {
      // The pages render the domain model (src/oauth/model.ts), never a store's rows or classes.
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/store/**'], message: 'src/views renders the model (oauth/model.ts), not store types.' },
          { group: ['kysely', 'better-sqlite3', 'pg'], message: 'src/views does not talk to storage.' },
        ],
      }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
