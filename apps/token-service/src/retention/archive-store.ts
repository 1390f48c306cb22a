import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/**
 * Where archived events go: immutable objects under `/`-separated keys, the shape of an object
 * store (S3, GCS), so another implementation can take this one's place without changing the
 * layout. Only the filesystem implementation exists; readers never see a half-written object.
 */
export interface ArchiveStore {
  /** Stores `body` under `key`, durably once the promise resolves. A key is written once. */
  put(key: string, body: Buffer): Promise<void>;
  get(key: string): Promise<Buffer>;
  /** Every key that starts with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Removes the object under `key` (no error when there is none). */
  delete(key: string): Promise<void>;
  /** Where the store is, for logs and reports. */
  readonly location: string;
}

/**
 * ArchiveStore on a directory (a local disk, a mounted volume). `put` writes a temporary file,
 * fsyncs it, renames it to its key and fsyncs the directory: after a crash a key either holds
 * the whole body or does not exist (a leftover `.tmp-*` file is not a key).
 */
export class FileSystemArchiveStore implements ArchiveStore {
  constructor(readonly location: string) {}

  async put(key: string, body: Buffer): Promise<void> {
    const path = this.pathOf(key);
    const directory = dirname(path);
    await mkdir(directory, { recursive: true });
    const temporary = `${path}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      const file = await open(temporary, 'wx');
      try {
        await file.writeFile(body);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw error;
    }
    const dir = await open(directory, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  get(key: string): Promise<Buffer> {
    return readFile(this.pathOf(key));
  }

  async list(prefix: string): Promise<string[]> {
    // The deepest directory the prefix names entirely; keys below it are filtered by the prefix.
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys: string[] = [];
    const walk = async (directory: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(directory, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const path = join(directory, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile() && !entry.name.includes('.tmp-')) {
          const key = relative(this.location, path).split(sep).join('/');
          if (key.startsWith(prefix)) keys.push(key);
        }
      }
    };
    await walk(this.pathOf(base));
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await rm(path, { force: true });
    // Empty directories of the layout go with their last object (never the archive's own root).
    for (let directory = dirname(path); directory.startsWith(`${this.location}${sep}`); directory = dirname(directory)) {
      try {
        await rmdir(directory);
      } catch {
        break; // not empty (or already gone): its parents are not empty either
      }
    }
  }

  private pathOf(key: string): string {
    if (key.split('/').some((part) => part === '..')) throw new Error(`archive key "${key}" may not contain ..`);
    return join(this.location, ...key.split('/').filter((part) => part !== ''));
  }
}
