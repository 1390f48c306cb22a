/**
 * @waitpoints/sdk as a package: built (`npm run build:sdk`), packed with npm, checked with
 * publint and arethetypeswrong, unpacked into a project of its own and used from plain Node.js
 * against the started system, with `require` and with `import`: no path aliases, no TypeScript,
 * nothing of this repository. The main entry point works without `nats` installed (an optional
 * peer dependency); `@waitpoints/sdk/events` needs it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const BIN = join(ROOT, 'node_modules', '.bin');

let system: RunningSystem;
let project: string;
let tarball: string;
let installed: string;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'waitpoints-sdk-user-'));
  const [started] = await Promise.all([
    startSystem(),
    (async () => {
      await run('npm', ['run', 'build:sdk'], { cwd: ROOT });
      const { stdout } = await run('npm', ['pack', './libs/sdk', '--pack-destination', project, '--json'], { cwd: ROOT });
      const [{ filename }] = JSON.parse(stdout) as { filename: string }[];
      tarball = join(project, filename);
      installed = join(project, 'node_modules', '@waitpoints', 'sdk');
      mkdirSync(installed, { recursive: true });
      await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components', '1']);
    })(),
  ]);
  system = started;
}, 120_000);

afterAll(async () => {
  await system?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

/** Runs a script file in the bare project and parses the JSON line it prints. */
async function runInProject(file: string, source: string): Promise<unknown> {
  writeFileSync(join(project, file), source);
  const { stdout } = await run(process.execPath, [file], {
    cwd: project,
    env: { PATH: process.env.PATH, BASE_URL: system.baseUrl, SECRET_KEY: TEST_KEYS.dev },
    timeout: 30_000,
  });
  return JSON.parse(stdout);
}

it('carries its README and LICENSE and shallow paths, and passes publint and arethetypeswrong', async () => {
  const { stdout: listing } = await run('tar', ['-tzf', tarball]);
  const files = listing.trim().split('\n').sort();
  expect(files).toEqual(expect.arrayContaining(['package/LICENSE', 'package/README.md', 'package/package.json']));
  for (const entry of ['index', 'events']) {
    expect(files).toEqual(
      expect.arrayContaining([
        `package/dist/${entry}.js`,
        `package/dist/${entry}.mjs`,
        `package/dist/${entry}.d.ts`,
        `package/dist/${entry}.d.mts`,
      ]),
    );
  }
  // Nothing of the repository's layout (dist/libs/sdk/src/…), no sources, no source maps.
  expect(files.filter((file) => !/^package\/(LICENSE|README\.md|package\.json|dist\/[\w-]+\.(js|mjs|d\.ts|d\.mts))$/.test(file))).toEqual(
    [],
  );
  expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toBe(readFileSync(join(ROOT, 'LICENSE'), 'utf8'));

  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  expect(manifest.dependencies).toBeUndefined();
  expect(manifest.peerDependencies).toEqual({ nats: expect.any(String) });
  expect(manifest.peerDependenciesMeta).toEqual({ nats: { optional: true } });

  const publint = await run(join(BIN, 'publint'), ['run', tarball, '--strict'], { cwd: project });
  // "All good!" only without errors, warnings and suggestions.
  expect(publint.stdout).toContain('All good!');
  // Exits non-zero on any problem, in every resolution mode (node10, node16 CJS and ESM, bundler).
  await run(join(BIN, 'attw'), [tarball, '--format', 'table-flipped'], { cwd: project });
}, 60_000);

it('waits for a token with require, without nats installed', async () => {
  const output = await runInProject(
    'main.cjs',
    `
    const { WaitpointsClient, WaitpointTimeoutError } = require('@waitpoints/sdk');
    let events;
    try { require('@waitpoints/sdk/events'); events = 'loaded'; } catch (error) { events = error.code + ': ' + error.message.split('\\n')[0]; }
    (async () => {
      const client = new WaitpointsClient({ baseURL: process.env.BASE_URL, secretKey: process.env.SECRET_KEY });
      const token = await client.createToken({ timeout: '1h', tags: ['packaged'] });
      const waiting = client.forToken(token.id, { maxWait: '10s' });
      await fetch(token.url, { method: 'POST', body: JSON.stringify({ approved: true }) });
      const result = await waiting;
      console.log(JSON.stringify({ result, timeoutErrorClass: typeof WaitpointTimeoutError, events }));
    })().catch((error) => { console.error(error); process.exit(1); });
    `,
  );
  expect(output).toEqual({
    result: { ok: true, id: expect.stringMatching(/^waitpoint_/), output: { approved: true } },
    timeoutErrorClass: 'function',
    // Only the events entry point needs nats, and says so.
    events: expect.stringMatching(/^MODULE_NOT_FOUND: Cannot find module 'nats'/),
  });
});

it('waits for a token with import, without nats installed', async () => {
  const output = await runInProject(
    'main.mjs',
    `
    import { WaitLimitExceededError, configure, wait } from '@waitpoints/sdk';
    configure({ baseURL: process.env.BASE_URL, secretKey: process.env.SECRET_KEY });
    const token = await wait.createToken({ timeout: '1h', tags: ['packaged-esm'] });
    const waiting = wait.forToken(token.id, { maxWait: '10s' });
    await fetch(token.url, { method: 'POST', body: JSON.stringify({ approved: 'esm' }) });
    const result = await waiting;
    const other = await wait.createToken({ timeout: '1h' });
    const gaveUp = await wait.forToken(other.id, { maxWait: 200 }).then(() => 'resolved', (error) => error instanceof WaitLimitExceededError);
    console.log(JSON.stringify({ result, gaveUp }));
    `,
  );
  expect(output).toEqual({
    result: { ok: true, id: expect.stringMatching(/^waitpoint_/), output: { approved: 'esm' } },
    gaveUp: true,
  });
});

it('offers the JetStream consumer to require and import once nats is installed', async () => {
  // The peer dependency, as npm install nats would provide it.
  symlinkSync(join(ROOT, 'node_modules', 'nats'), join(project, 'node_modules', 'nats'));
  expect(
    await runInProject(
      'events.cjs',
      `const { consumeTokenEvents } = require('@waitpoints/sdk/events');
       console.log(JSON.stringify({ consumer: typeof consumeTokenEvents }));`,
    ),
  ).toEqual({ consumer: 'function' });
  expect(
    await runInProject(
      'events.mjs',
      `import { consumeTokenEvents } from '@waitpoints/sdk/events';
       console.log(JSON.stringify({ consumer: typeof consumeTokenEvents }));`,
    ),
  ).toEqual({ consumer: 'function' });
});
