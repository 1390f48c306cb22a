import { resolveClientOptions } from './config';
import { nodeTransport } from './transport';

describe('client options', () => {
  const credentials = { baseURL: 'http://gateway:3000', secretKey: 'tr_dev_key' };

  it('sends requests and opens event streams over node:http unless a fetch is given', () => {
    const options = resolveClientOptions(credentials, {});
    expect(options.send).toBe(nodeTransport.send);
    expect(options.openStream).toBe(nodeTransport.openStream);
  });

  it("sends everything, event streams included, through the caller's own fetch", async () => {
    const own = jest.fn(async () => new Response('{}')) as unknown as typeof fetch;
    const options = resolveClientOptions({ ...credentials, fetch: own }, {});
    const signal = new AbortController().signal;
    await options.send('http://gateway:3000/a', { method: 'POST', headers: {}, body: '{}' });
    await options.openStream('http://gateway:3000/b', { headers: { accept: 'text/event-stream' }, signal });
    expect(own).toHaveBeenNthCalledWith(1, 'http://gateway:3000/a', { method: 'POST', headers: {}, body: '{}' });
    expect(own).toHaveBeenNthCalledWith(2, 'http://gateway:3000/b', { method: 'GET', headers: { accept: 'text/event-stream' }, signal });
  });

  it('waits 300 s for an answer unless told otherwise, and refuses a timeout that is not a positive whole number', () => {
    expect(resolveClientOptions(credentials, {}).requestTimeoutMs).toBe(300_000);
    expect(resolveClientOptions({ ...credentials, requestTimeoutMs: 5000 }, {}).requestTimeoutMs).toBe(5000);
    for (const requestTimeoutMs of [0, -1, 1.5, Number.NaN]) {
      expect(() => resolveClientOptions({ ...credentials, requestTimeoutMs }, {})).toThrow(
        'requestTimeoutMs must be a whole number of milliseconds, at least 1',
      );
    }
  });
});
