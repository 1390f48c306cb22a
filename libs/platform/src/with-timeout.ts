/**
 * `work`, or a failure once `ms` have passed without it settling: an Error saying that `late`
 * did not answer in time, or the Error `late()` makes. The timer goes as soon as either settles.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, late: string | (() => Error)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(typeof late === 'string' ? new Error(`${late} did not answer within ${ms} ms`) : late()), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
