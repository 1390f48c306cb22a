import { Logger } from '@nestjs/common';
import { WakeableSleep } from '@waitpoints/platform';
import { outboxPosition, parseOutboxPosition } from '@waitpoints/contracts';
import { Client } from 'pg';
import type { SqlStatement } from '../database/database';
import { JetStreamPublisher } from './jetstream-publisher';
import { readInPublishOrder } from './outbox-reads';

export interface OutboxRelayOptions {
  databaseUrl: string;
  subscriberId: string;
  batchSize: number;
  /** Poll while commits come in: picks up events whose transaction was not yet below every running one. */
  pollIntervalMs: number;
  /** Poll after nothing was committed for a while: a safety net, since every commit wakes the relay. */
  idlePollIntervalMs?: number;
  /**
   * Most time between two checkpoint writes. A crash re-publishes what was published since the
   * last one, which JetStream drops as duplicates (keep it well inside the duplicate window).
   */
  checkpointIntervalMs?: number;
  /**
   * Least time between two reads while events keep coming (`OUTBOX_GATHER_MS`): the commits of
   * that window go out with one read and one JetStream write instead of one each. Waiters do not
   * wait for it (they are told by the live copy, see JetStreamPublisher.announce); JetStream
   * consumers see an event at most this much later. The first commit after a quiet spell is read
   * at once, and a full batch is followed by the next without waiting.
   */
  gatherMs?: number;
}

/** After a wake or a publish, the relay polls at the busy interval for this long. */
const BUSY_FOR_MS = 2_000;

/**
 * Publishes every stored event to JetStream, in order, using es_events as the outbox.
 *
 * - One active relay per database: a session advisory lock elects it; the others wait.
 * - Gap-free: only rows of transactions older than every running one are read
 *   (`transaction_id < pg_snapshot_xmin`), ordered and checkpointed by
 *   (transaction_id, global_position), so a slow transaction's events are never skipped.
 * - At-least-once to JetStream, deduplicated there by Nats-Msg-Id: a crash between the
 *   PubAck and the checkpoint re-publishes what JetStream recognises and drops. The checkpoint
 *   is therefore written at most every `checkpointIntervalMs`, not after every publish.
 * - Woken, not polling: every commit of this instance wakes it directly, and every commit of
 *   another instance through the live copy of its events on NATS (see JetStreamPublisher.announce).
 *   It polls at `pollIntervalMs` for a while after activity (a commit can become readable only
 *   once older transactions end) and at `idlePollIntervalMs` when quiet.
 */
export class OutboxRelay {
  private readonly logger = new Logger(OutboxRelay.name);
  private client?: Client;
  private leader = false;
  private running = false;
  private loop?: Promise<void>;
  private readonly pause = new WakeableSleep();
  /** After a failure the relay waits its full second: commits must not turn the pause into a busy retry. */
  private backingOff = false;
  private checkpoint = { transactionId: '0', globalPosition: '0' };
  /** The checkpoint as es_checkpoints holds it, and when it was written. */
  private savedCheckpoint = { transactionId: '0', globalPosition: '0' };
  private savedAt = 0;
  private busyUntil = 0;
  /** When the last read that published something without filling a batch was made (see gatherMs). */
  private lastPartialReadAt = 0;
  private publishedCount = 0;
  private stopListening?: () => void;

  constructor(
    private readonly options: OutboxRelayOptions,
    private readonly publisher: JetStreamPublisher,
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  /** The checkpoint row this relay advances in es_checkpoints. */
  get subscriberId(): string {
    return this.options.subscriberId;
  }

  get published(): number {
    return this.publishedCount;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopListening = this.publisher.onAnnounced(() => this.wake());
    this.loop = this.run();
  }

  /** Called after a commit (of this instance, or announced by another) so the relay does not wait for its next poll. */
  wake(): void {
    // A relay that is not the leader only retries its lock, once a second: a wake would turn
    // every commit into a lock attempt.
    if (!this.leader) return;
    this.busyUntil = Date.now() + BUSY_FOR_MS;
    if (!this.backingOff) this.pause.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopListening?.();
    this.pause.wake();
    await this.loop;
    if (this.leader) await this.saveCheckpoint().catch(() => undefined);
    await this.disconnect();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (!this.leader && !(await this.tryBecomeLeader())) {
          await this.pause.sleep(1000);
          continue;
        }
        await this.gather();
        const published = await this.publishNextBatch();
        if (published > 0) this.busyUntil = Date.now() + BUSY_FOR_MS;
        if (published > 0 && published < this.options.batchSize) this.lastPartialReadAt = Date.now();
        if (published < this.options.batchSize) {
          if (Date.now() - this.savedAt >= (this.options.checkpointIntervalMs ?? 0)) await this.saveCheckpoint();
          const idle = Date.now() > this.busyUntil;
          await this.pause.sleep(idle ? (this.options.idlePollIntervalMs ?? this.options.pollIntervalMs) : this.options.pollIntervalMs);
        }
      } catch (error) {
        if (!this.running) break;
        this.logger.error(`outbox relay failed, retrying in 1s: ${describeFailure(error)}`);
        await this.disconnect();
        this.backingOff = true;
        // A commit's wake that came during the failed attempt would otherwise cut the pause to
        // nothing: the relay then retried (and reconnected to PostgreSQL) every few milliseconds.
        this.pause.forgetPendingWake();
        await this.pause.sleep(1000);
        this.backingOff = false;
      }
    }
  }

  /** Lets the commits of the gather window pile up after the previous partial read (not woken early by them). */
  private async gather(): Promise<void> {
    const wait = this.lastPartialReadAt + (this.options.gatherMs ?? 0) - Date.now();
    if (wait > 0 && this.running) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  private async tryBecomeLeader(): Promise<boolean> {
    if (!this.client) {
      const client = new Client({ connectionString: this.options.databaseUrl, application_name: 'waitpoints-outbox' });
      client.on('error', (error) => this.logger.warn(`outbox connection error: ${error.message}`));
      await client.connect();
      this.client = client;
    }
    const { rows } = await this.client.query(`SELECT pg_try_advisory_lock(hashtext('waitpoints:outbox:' || $1)) AS locked`, [
      this.options.subscriberId,
    ]);
    if (!rows[0].locked) return false;
    await this.client.query(`INSERT INTO es_checkpoints (subscriber_id) VALUES ($1) ON CONFLICT DO NOTHING`, [this.options.subscriberId]);
    const saved = await this.client.query(
      `SELECT last_transaction_id::text AS tx, last_global_position::text AS pos
         FROM es_checkpoints WHERE subscriber_id = $1`,
      [this.options.subscriberId],
    );
    this.checkpoint = { transactionId: saved.rows[0].tx, globalPosition: saved.rows[0].pos };
    this.savedCheckpoint = this.checkpoint;
    this.savedAt = Date.now();
    this.leader = true;
    this.logger.log(`outbox relay active for ${this.options.subscriberId} from position ${this.checkpoint.globalPosition}`);
    return true;
  }

  private async publishNextBatch(): Promise<number> {
    const client = this.client!;
    const sql = { query: async (statement: SqlStatement) => (await client.query(statement)).rows };
    const { transactionId, globalPosition } = this.checkpoint;
    const events = await readInPublishOrder(sql, { after: outboxPosition(transactionId, globalPosition), limit: this.options.batchSize });
    if (events.length === 0) return 0;
    await this.publisher.publishAll(events);
    const last = parseOutboxPosition(events[events.length - 1].position)!;
    this.checkpoint = { transactionId: last.transactionId, globalPosition: last.globalPosition };
    this.publishedCount += events.length;
    return events.length;
  }

  /** Writes the in-memory checkpoint if it moved since the last write. */
  private async saveCheckpoint(): Promise<void> {
    const checkpoint = this.checkpoint;
    if (!this.client || checkpoint === this.savedCheckpoint) return;
    await this.client.query({
      name: 'waitpoints-outbox-checkpoint',
      text: `UPDATE es_checkpoints SET last_transaction_id = $2::xid8, last_global_position = $3::bigint, updated_at = now()
              WHERE subscriber_id = $1`,
      values: [this.options.subscriberId, checkpoint.transactionId, checkpoint.globalPosition],
    });
    this.savedCheckpoint = checkpoint;
    this.savedAt = Date.now();
  }

  private async disconnect(): Promise<void> {
    this.leader = false;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

/** nats.js reports a JetStream publish nobody answered as a bare "503". */
function describeFailure(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  if (code === '503') return 'JetStream did not answer (503: no responders; NATS reconnecting or the stream electing a leader)';
  return message ?? String(error);
}
