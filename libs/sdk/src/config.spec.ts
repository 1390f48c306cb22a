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
});
