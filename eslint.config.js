// Lint gates: promises that nobody awaits, type-only imports, no import cycles, and workflow
// code that cannot reach Node built-ins (the workflow sandbox would reject them at run time).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import prettier from 'eslint-config-prettier';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((name) => `node:${name}`)];
const deepTemporalImports = {
  group: ['@temporalio/*/lib/*'],
  message: 'import from the package entry point; lib/ is internal to the SDK',
};

export default tseslint.config(
  { ignores: ['node_modules/**', '.segflow/**', 'bench/.venv/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { import: importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
      // import-x follows only the files of these extensions (.js alone by default): without .ts
      // `import/no-cycle` walked no import of ours and found no cycle, whatever the code held
      'import-x/extensions': ['.ts', '.js'],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import/no-cycle': 'error',
      'no-restricted-imports': ['error', { patterns: [deepTemporalImports] }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'workflow code runs in a sandbox without Node built-ins',
          })),
          patterns: [deepTemporalImports],
        },
      ],
    },
  },
  prettier,
);
