import { defineConfig } from 'tsup';

/**
 * The @waitpoints/sdk package (`npm run build:sdk`, run from the repository root): one bundle per
 * entry point, as CommonJS (.js) and ES module (.mjs), each with its declarations (.d.ts and
 * .d.mts). @waitpoints/contracts is compiled in; `nats` stays an import, and only the
 * events entry point has one.
 */
export default defineConfig({
  entry: { index: 'libs/sdk/src/index.ts', events: 'libs/sdk/src/events/index.ts' },
  outDir: 'libs/sdk/dist',
  tsconfig: 'libs/sdk/tsconfig.package.json',
  format: ['cjs', 'esm'],
  dts: true,
  platform: 'node',
  target: 'node20',
  external: ['nats'],
  clean: true,
  sourcemap: false,
});
