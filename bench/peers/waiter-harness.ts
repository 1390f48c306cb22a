/**
 * The waiter process's side of the benchmark: the code that waits, in its own process, as
 * real waiting code would be. Each system's waiter (waiter-ours.ts, waiter-restate.ts,
 * waiter-dbos.ts) says how to open one wait and calls `markResumed` where its waiting code
 * continues; this file runs the driver's requests over IPC (open waits, report resumptions).
 */
import { DriverMessage, OpenReport, WaiterMessage, now, withTimeout } from './common';

export interface Waits {
  /** Opens one wait; resolves with the id a completer needs, once the wait is established. */
  open(index: number): Promise<string>;
  /** Lets go of everything (connections, servers, SDK runtimes). */
  close(): Promise<void>;
}

const OPEN_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 10_000;

const resumedAt = new Map<string, number>();
const onResumed = new Set<(id: string) => void>();

/** Where the waiting code continues: the first call for an id counts (a replay may call it again). */
export function markResumed(id: string): void {
  if (resumedAt.has(id)) return;
  resumedAt.set(id, now());
  for (const listener of onResumed) listener(id);
}

const send = (message: WaiterMessage) => process.send!(message);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function runWaiterProcess(setup: () => Promise<{ waits: Waits; info?: Record<string, unknown> }>): void {
  if (!process.send) throw new Error('a waiter process is started by bench/peers/main.ts (it needs an IPC channel)');
  // The driver is gone (even killed): do not linger.
  process.on('disconnect', () => process.exit(0));
  let waits: Waits | undefined;
  let opened = 0;

  const open = async (clients: number, count = Infinity, seconds = Infinity): Promise<OpenReport> => {
    const report: OpenReport = { type: 'opened', ids: [], latenciesMs: [], failures: 0, errors: [], elapsedMs: 0 };
    const started = now();
    const deadline = started + seconds * 1000;
    let left = count;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (left > 0 && now() < deadline) {
          left--;
          const index = opened++;
          const openedAt = now();
          try {
            const id = await withTimeout(waits!.open(index), OPEN_TIMEOUT_MS, 'opening a wait');
            report.latenciesMs.push(now() - openedAt);
            report.ids.push(id);
          } catch (error) {
            report.failures++;
            if (report.errors.length < 5) report.errors.push(messageOf(error));
          }
        }
      }),
    );
    report.elapsedMs = now() - started;
    return report;
  };

  const awaitResumed = (ids: string[], timeoutMs: number): Promise<void> =>
    new Promise((resolve) => {
      const pending = new Set(ids.filter((id) => !resumedAt.has(id)));
      const done = () => {
        clearTimeout(timer);
        onResumed.delete(listener);
        resolve();
      };
      const listener = (id: string) => {
        if (pending.delete(id) && pending.size === 0) done();
      };
      const timer = setTimeout(done, timeoutMs);
      onResumed.add(listener);
      if (pending.size === 0) done();
    });

  process.on('message', async (message: DriverMessage) => {
    try {
      switch (message.type) {
        case 'clock':
          send({ type: 'clock', seq: message.seq, t: now() });
          break;
        case 'open':
          send(await open(message.clients, message.count, message.seconds));
          break;
        case 'awaitResumed': {
          await awaitResumed(message.ids, message.timeoutMs);
          const resumed: Array<[string, number]> = [];
          for (const id of message.ids) if (resumedAt.has(id)) resumed.push([id, resumedAt.get(id)!]);
          send({ type: 'resumed', resumedAt: resumed, missing: message.ids.length - resumed.length });
          break;
        }
        case 'stop':
          await withTimeout(waits?.close() ?? Promise.resolve(), CLOSE_TIMEOUT_MS, 'closing the waiter').catch(() => undefined);
          send({ type: 'stopped' });
          process.exit(0);
      }
    } catch (error) {
      send({ type: 'failed', error: messageOf(error) });
    }
  });

  setup().then(
    (ready) => {
      waits = ready.waits;
      send({ type: 'ready', info: ready.info ?? {} });
    },
    (error) => {
      send({ type: 'failed', error: `setup: ${messageOf(error)}` });
      setTimeout(() => process.exit(1), 100);
    },
  );
}
