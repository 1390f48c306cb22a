import { randomUUID } from 'node:crypto';
import { NatsConnection, ObjectStore, StorageType } from 'nats';

/**
 * Outputs may be up to 3 MiB, but a NATS message is capped by the server's max_payload
 * (1 MiB by default). Outputs above INLINE_OUTPUT_LIMIT_BYTES therefore travel through a
 * JetStream object store, and messages carry the object's name instead of the text:
 *
 * - `<PREFIX>_UPLOADS`: outputs on their way from the gateway to the token-service
 *   (one object per request, deleted once handled, expired after a day in any case);
 * - `<PREFIX>_OUTPUTS`: the output of a finished token, object `token-<tokenId>`, for query
 *   replies and published events. Written once: a token's output never changes.
 */
export const INLINE_OUTPUT_LIMIT_BYTES = 256 * 1024;

export const needsOffload = (output: string | undefined): output is string =>
  output !== undefined && Buffer.byteLength(output) > INLINE_OUTPUT_LIMIT_BYTES;

const bucketBase = (prefix: string) => prefix.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase();
export const uploadsBucketName = (prefix: string) => `${bucketBase(prefix)}_UPLOADS`;
export const outputsBucketName = (prefix: string) => `${bucketBase(prefix)}_OUTPUTS`;
export const tokenOutputObjectName = (tokenId: string) => `token-${tokenId}`;

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

  /** Stores a finished token's output (idempotent: the same output is written at most once). */
  async saveTokenOutput(tokenId: string, output: string): Promise<string> {
    const name = tokenOutputObjectName(tokenId);
    const existing = await this.outputs.info(name);
    if (!existing || existing.deleted) await this.outputs.putBlob({ name }, Buffer.from(output));
    return name;
  }

  async readTokenOutput(name: string): Promise<string> {
    const data = await this.outputs.getBlob(name);
    if (data === null) throw new Error(`token output ${name} not found`);
    return Buffer.from(data).toString('utf8');
  }
}
