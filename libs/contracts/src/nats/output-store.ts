import { randomUUID } from 'node:crypto';
import { NatsConnection, ObjectStore, StorageType } from 'nats';

/**
 * Outputs may be up to 3 MiB, but a NATS message is capped by the server's max_payload
 * (1 MiB by default). Outputs above INLINE_OUTPUT_LIMIT_BYTES therefore travel through a
 * JetStream object store, and messages carry the object's name instead of the text:
 *
 * - `<PREFIX>_UPLOADS`: outputs on their way from the gateway to the token-service
 *   (one object per request, deleted once handled, expired after a day in any case);
 * - `<PREFIX>_OUTPUTS`: outputs of published events, object `event-<eventId>`.
 *
 * Every object has exactly one writer (the requesting gateway, or the active outbox relay):
 * two concurrent puts of one name make the object store purge chunks a reader may be reading.
 * Query replies do not use the store; the gateway reads large outputs in chunks instead.
 */
export const INLINE_OUTPUT_LIMIT_BYTES = 256 * 1024;

export const needsOffload = (output: string | undefined): output is string =>
  output !== undefined && Buffer.byteLength(output) > INLINE_OUTPUT_LIMIT_BYTES;

const bucketBase = (prefix: string) => prefix.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase();
export const uploadsBucketName = (prefix: string) => `${bucketBase(prefix)}_UPLOADS`;
export const outputsBucketName = (prefix: string) => `${bucketBase(prefix)}_OUTPUTS`;
export const eventOutputObjectName = (eventId: string) => `event-${eventId}`;

/** Characters per chunk when a large output is read over request/reply: even fully escaped
 * (6 bytes a character in JSON) a chunk stays under NATS's default 1 MiB. */
export const OUTPUT_CHUNK_CHARS = 128 * 1024;

const UPLOAD_TTL_NANOS = 24 * 60 * 60 * 1e9;

export class LargeOutputStore {
  private constructor(
    private readonly uploads: ObjectStore,
    private readonly outputs: ObjectStore,
  ) {}

  static async open(connection: NatsConnection, prefix: string, replicas = 1): Promise<LargeOutputStore> {
    const views = connection.jetstream().views;
    const [uploads, outputs] = await Promise.all([
      views.os(uploadsBucketName(prefix), { storage: StorageType.File, replicas, ttl: UPLOAD_TTL_NANOS }),
      views.os(outputsBucketName(prefix), { storage: StorageType.File, replicas }),
    ]);
    return new LargeOutputStore(uploads, outputs);
  }

  /** Gateway side: parks an output for the token-service; returns the reference to send. */
  async upload(output: string): Promise<string> {
    const name = `upload-${randomUUID()}`;
    await this.uploads.putBlob({ name }, Buffer.from(output));
    return name;
  }

  /** Token-service side: the uploaded output, or an error if it expired or never existed. */
  async takeUpload(name: string): Promise<string> {
    const data = await this.uploads.getBlob(name);
    if (data === null) throw new Error(`uploaded output ${name} not found`);
    return Buffer.from(data).toString('utf8');
  }

  async discardUpload(name: string): Promise<void> {
    await this.uploads.delete(name).catch(() => undefined);
  }

  /** Stores the output of a published event (written once; a re-publish finds it there). */
  async saveEventOutput(eventId: string, output: string): Promise<string> {
    const name = eventOutputObjectName(eventId);
    const existing = await this.outputs.info(name);
    if (!existing || existing.deleted) await this.outputs.putBlob({ name }, Buffer.from(output));
    return name;
  }

  async readEventOutput(name: string): Promise<string> {
    const data = await this.outputs.getBlob(name);
    if (data === null) throw new Error(`event output ${name} not found`);
    return Buffer.from(data).toString('utf8');
  }
}
