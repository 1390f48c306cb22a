// @ts-check
// ESLint for the TypeScript of apps, libs, test, bench and examples (`npm run lint`).
// typescript-eslint's type-checked recommended rules, less the ones that fight this code base's
// deliberate style; see the comments on each choice. Formatting is Prettier's business
// (`npm run format:check`), so no stylistic rule is enabled here.
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const TEST_FILES = ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', '**/*.fault-spec.ts', 'test/**/*.ts'];

export default defineConfig(
  { ignores: ['**/dist/**', 'node_modules/**', 'coverage/**', 'test-output/**', 'bench/results/**'] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Off: values from JSON.parse, res.json() and NATS payloads are `any` by design and are
      // checked at run time (class-validator, decoders, test expectations); these five rules
      // flag every use of them (about 470 places) without finding a defect.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // Off (style): async methods without await implement Promise-returning interfaces
      // (Nest handlers, health indicators, test doubles).
      '@typescript-eslint/require-await': 'off',
      // Off (style): redundant casts and explicit type arguments are harmless and often
      // document the intended type.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Promise-returning callbacks passed as arguments are allowed: the five found were Promise
      // executors and a timer that pass their rejection on, and async signal/message listeners in
      // an example and the bench. Promises in conditions, spreads and attributes are still checked.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      // An AbortSignal's reason is `any`; rejecting with it is what fetch does.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowNumber: true,
          allowBoolean: true,
          allowNullish: true,
          allow: [
            { from: 'lib', name: ['Error'] },
            { from: 'package', package: 'url', name: ['URL', 'URLSearchParams'] },
          ],
        },
      ],
      // A module-level pipe used only inside a parameter decorator (`@Body(pipe)`) reads to this
      // rule as assigned and never used: it does not see decorator arguments.
      'no-useless-assignment': 'off',
      // `_name` marks a value that is deliberately unused (a destructured-away field, say).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: TEST_FILES,
    rules: {
      // Tests read loosely typed responses, and hand the code under test what a misbehaving
      // peer would (a bare string as a rejection reason, say).
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
);
