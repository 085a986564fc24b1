/** Jest: TypeScript through ts-jest in transpile-only mode (tsconfig sets isolatedModules);
 * type checking is `npm run build` (tsc --noEmit), run separately by scripts/ci.sh. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  // Synthesis of the full stacks takes a few seconds on a 2-core machine.
  testTimeout: 120000,
};
