import { CommandBatcher, Settled } from './command-batcher';

/** A batch runner that records its batches and answers when told to. */
function recordingRunner() {
  const batches: number[][] = [];
  const finishers: (() => void)[] = [];
  const run = (commands: number[]) =>
    new Promise<Settled<number>[]>((resolve) => {
      batches.push(commands);
      finishers.push(() =>
        resolve(commands.map((c) => (c < 0 ? { ok: false, error: new Error(`bad ${c}`) } : { ok: true, value: c * 10 }))),
      );
    });
  return { batches, finishAll: () => finishers.splice(0).forEach((finish) => finish()), run };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('CommandBatcher', () => {
  it('sends the commands submitted together as one batch and answers each with its own result', async () => {
    const runner = recordingRunner();
    const batcher = new CommandBatcher(runner.run, { maxBatchSize: 10, maxInFlight: 1 });
    const answers = [1, 2, 3].map((n) => batcher.submit(n));
    await tick();
    runner.finishAll();
    await expect(Promise.all(answers)).resolves.toEqual([10, 20, 30]);
    expect(runner.batches).toEqual([[1, 2, 3]]);
  });

  it('queues what arrives while the batches in flight run, and sends it together next', async () => {
    const runner = recordingRunner();
    const batcher = new CommandBatcher(runner.run, { maxBatchSize: 10, maxInFlight: 1 });
    const first = batcher.submit(1);
    await tick();
    const later = [2, 3, 4].map((n) => batcher.submit(n));
    await tick();
    expect(runner.batches).toEqual([[1]]);
    runner.finishAll();
    await first;
    await tick();
    runner.finishAll();
    await Promise.all(later);
    expect(runner.batches).toEqual([[1], [2, 3, 4]]);
  });

  it('never puts more than maxBatchSize commands in a batch, nor runs more than maxInFlight batches', async () => {
    const runner = recordingRunner();
    const batcher = new CommandBatcher(runner.run, { maxBatchSize: 2, maxInFlight: 2 });
    const answers = [1, 2, 3, 4, 5].map((n) => batcher.submit(n));
    await tick();
    expect(runner.batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
    runner.finishAll();
    await tick();
    expect(runner.batches).toEqual([[1, 2], [3, 4], [5]]);
    runner.finishAll();
    await expect(Promise.all(answers)).resolves.toEqual([10, 20, 30, 40, 50]);
  });

  it('fails only the command whose result is a failure', async () => {
    const runner = recordingRunner();
    const batcher = new CommandBatcher(runner.run, { maxBatchSize: 10, maxInFlight: 1 });
    const answers = [1, -2, 3].map((n) => batcher.submit(n).then(String, (error: Error) => error.message));
    await tick();
    runner.finishAll();
    await expect(Promise.all(answers)).resolves.toEqual(['10', 'bad -2', '30']);
  });

  it('fails every command of a batch whose run throws, and keeps serving the next ones', async () => {
    let calls = 0;
    const batcher = new CommandBatcher<number, number>(
      async (commands) => {
        if (calls++ === 0) throw new Error('database gone');
        return commands.map((c) => ({ ok: true, value: c }));
      },
      { maxBatchSize: 10, maxInFlight: 1 },
    );
    const failed = [1, 2].map((n) => batcher.submit(n).catch((error: Error) => error.message));
    await expect(Promise.all(failed)).resolves.toEqual(['database gone', 'database gone']);
    await expect(batcher.submit(3)).resolves.toBe(3);
  });
});
