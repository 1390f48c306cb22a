/**
 * @waitpoints/sdk as a package: built (`npm run build:sdk`), packed with npm, unpacked into a
 * project of its own with only its one dependency (nats), and used from plain Node.js against the
 * started system: no path aliases, no TypeScript, nothing of this repository.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');

let system: RunningSystem;
let project: string;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'waitpoints-sdk-user-'));
  const [started] = await Promise.all([
    startSystem(),
    (async () => {
      await run('npm', ['run', 'build:sdk'], { cwd: ROOT });
      const { stdout } = await run('npm', ['pack', './libs/sdk', '--pack-destination', project, '--json'], { cwd: ROOT });
      const [{ filename }] = JSON.parse(stdout) as { filename: string }[];
      const installed = join(project, 'node_modules', '@waitpoints', 'sdk');
      mkdirSync(installed, { recursive: true });
      await run('tar', ['-xzf', join(project, filename), '-C', installed, '--strip-components', '1']);
      // The package's one dependency, as npm install would provide it.
      symlinkSync(join(ROOT, 'node_modules', 'nats'), join(project, 'node_modules', 'nats'));
    })(),
  ]);
  system = started;
}, 120_000);

afterAll(async () => {
  await system?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

it('is installable and waits for a token from a plain Node.js process', async () => {
  writeFileSync(
    join(project, 'main.js'),
    `
    const { WaitpointsClient, WaitpointTimeoutError } = require('@waitpoints/sdk');
    const { consumeTokenEvents } = require('@waitpoints/sdk/events');
    (async () => {
      const client = new WaitpointsClient({ baseURL: process.env.BASE_URL, secretKey: process.env.SECRET_KEY });
      const token = await client.createToken({ timeout: '1h', tags: ['packaged'] });
      const waiting = client.forToken(token.id, { maxWait: '10s' });
      await fetch(token.url, { method: 'POST', body: JSON.stringify({ approved: true }) });
      const result = await waiting;
      console.log(JSON.stringify({ result, timeoutErrorClass: typeof WaitpointTimeoutError, consumer: typeof consumeTokenEvents }));
    })().catch((error) => { console.error(error); process.exit(1); });
    `,
  );
  const { stdout } = await run(process.execPath, ['main.js'], {
    cwd: project,
    env: { PATH: process.env.PATH, BASE_URL: system.baseUrl, SECRET_KEY: TEST_KEYS.dev },
    timeout: 30_000,
  });
  expect(JSON.parse(stdout)).toEqual({
    result: { ok: true, id: expect.stringMatching(/^waitpoint_/), output: { approved: true } },
    timeoutErrorClass: 'function',
    consumer: 'function',
  });
});
