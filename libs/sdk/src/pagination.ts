/** One page of a cursor-paginated list. */
export interface CursorPage<T> {
  data: T[];
  pagination: { next?: string; previous?: string };
  hasNextPage(): boolean;
  hasPreviousPage(): boolean;
  getNextPage(): Promise<CursorPage<T>>;
  getPreviousPage(): Promise<CursorPage<T>>;
  /** This page and every later one. */
  iterPages(): AsyncGenerator<CursorPage<T>>;
}

export type PageFetcher<T> = (cursor: { after?: string; before?: string }) => Promise<{
  data: T[];
  pagination: { next?: string; previous?: string };
}>;

export function makePage<T>(
  fetchPage: PageFetcher<T>,
  raw: { data: T[]; pagination: { next?: string; previous?: string } },
): CursorPage<T> {
  const page: CursorPage<T> = {
    data: raw.data,
    pagination: raw.pagination,
    hasNextPage: () => raw.pagination.next !== undefined,
    hasPreviousPage: () => raw.pagination.previous !== undefined,
    async getNextPage() {
      if (raw.pagination.next === undefined) throw new Error('This is the last page (pagination.next is absent)');
      return makePage(fetchPage, await fetchPage({ after: raw.pagination.next }));
    },
    async getPreviousPage() {
      if (raw.pagination.previous === undefined) throw new Error('This is the first page (pagination.previous is absent)');
      return makePage(fetchPage, await fetchPage({ before: raw.pagination.previous }));
    },
    async *iterPages() {
      let current: CursorPage<T> = page;
      for (;;) {
        yield current;
        if (!current.hasNextPage()) return;
        current = await current.getNextPage();
      }
    },
  };
  return page;
}

/**
 * `await` it for the first page; `for await` over it for every item of every page. The first
 * request is sent when either starts, not before.
 */
export class CursorPagePromise<T> implements PromiseLike<CursorPage<T>>, AsyncIterable<T> {
  private first?: Promise<CursorPage<T>>;

  constructor(
    private readonly fetchPage: PageFetcher<T>,
    private readonly start: { after?: string; before?: string } = {},
  ) {}

  private firstPage(): Promise<CursorPage<T>> {
    this.first ??= this.fetchPage(this.start).then((raw) => makePage(this.fetchPage, raw));
    return this.first;
  }

  then<A = CursorPage<T>, B = never>(
    onFulfilled?: ((page: CursorPage<T>) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.firstPage().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<CursorPage<T> | B> {
    return this.firstPage().catch(onRejected);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for await (const page of (await this.firstPage()).iterPages()) yield* page.data;
  }
}
