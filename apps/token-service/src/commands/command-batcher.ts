/**
 * Group commit without waiting: a command that arrives while fewer than `maxInFlight`
 * batches are running starts a batch at once (after the commands submitted in the same
 * turn of the event loop, such as those of one NATS batch message, have joined it);
 * commands that arrive meanwhile queue up and go together in the next batch. Idle, a
 * command travels alone with no added delay; under load, batches grow by themselves and
 * one statement (one commit) serves many commands.
 */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface CommandBatcherOptions {
  maxBatchSize: number;
  maxInFlight: number;
}

interface Pending<C, R> {
  command: C;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

export class CommandBatcher<C, R> {
  private readonly queue: Pending<C, R>[] = [];
  private inFlight = 0;
  private startScheduled = false;

  constructor(
    /** Runs one batch; answers each command on its own, in order (one failure is not all). */
    private readonly run: (commands: C[]) => Promise<Settled<R>[]>,
    private readonly options: CommandBatcherOptions,
  ) {}

  submit(command: C): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      if (!this.startScheduled) {
        this.startScheduled = true;
        queueMicrotask(() => {
          this.startScheduled = false;
          this.startBatches();
        });
      }
    });
  }

  private startBatches(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatchSize);
      this.inFlight++;
      void this.runBatch(batch);
    }
  }

  private async runBatch(batch: Pending<C, R>[]): Promise<void> {
    try {
      const results = await this.run(batch.map((p) => p.command));
      batch.forEach((pending, i) => {
        const result = results[i];
        if (result === undefined) pending.reject(new Error('the batch gave no answer for this command'));
        else if (result.ok) pending.resolve(result.value);
        else pending.reject(result.error);
      });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      this.inFlight--;
      this.startBatches();
    }
  }
}
