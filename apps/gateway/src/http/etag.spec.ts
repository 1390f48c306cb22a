import { weakEtag } from './etag';

/** What Express uses by default (a dependency of express, without type declarations). */
const etag: (entity: Buffer, options: { weak: boolean }) => string = jest.requireActual('etag');

describe("the gateway's ETag", () => {
  it.each([
    ['an empty body', ''],
    ['a JSON answer', '{"id":"waitpoint_01jzzzzzzzzzzzzzzzzzzzzzzz","status":"WAITING"}'],
    ['text beyond ASCII', '{"output":"Grüße, 世界 🚀"}'],
  ])("is Express's default weak ETag for %s, as a string and as bytes", (_what, body) => {
    const expected = etag(Buffer.from(body), { weak: true });
    expect(weakEtag(body)).toBe(expected);
    expect(weakEtag(Buffer.from(body))).toBe(expected);
  });
});
