import { resolveClientOptions } from './config';
import { fetchEventStream } from './event-stream-fetch';

describe('client options', () => {
  const credentials = { baseURL: 'http://gateway:3000', secretKey: 'tr_dev_key' };

  it('opens event streams on connections of their own unless a fetch is given', () => {
    expect(resolveClientOptions(credentials, {}).fetchEventStream).toBe(fetchEventStream);
  });

  it("sends everything, event streams included, through the caller's own fetch", () => {
    const own = jest.fn() as unknown as typeof fetch;
    const options = resolveClientOptions({ ...credentials, fetch: own }, {});
    expect(options.fetch).toBe(own);
    expect(options.fetchEventStream).toBe(own);
  });
});
