import { SseParser } from './sse';

describe('reading a text/event-stream', () => {
  it('assembles events from id, event and data lines, ended by a blank line', () => {
    const parser = new SseParser();
    expect(parser.push('id: 1\nevent: token\ndata: {"status":"WAITING"}\n\n')).toEqual([
      { event: 'token', data: '{"status":"WAITING"}', lastEventId: '1' },
    ]);
  });

  it('waits for the blank line, however the text is cut into chunks', () => {
    const parser = new SseParser();
    const text = 'id: 2\nevent: token\ndata: {"a":1}\n\nevent: end\ndata: {}\n\n';
    const events = [];
    for (const char of text) events.push(...parser.push(char));
    expect(events).toEqual([
      { event: 'token', data: '{"a":1}', lastEventId: '2' },
      { event: 'end', data: '{}', lastEventId: '2' },
    ]);
  });

  it('accepts CRLF and CR line ends, including a CRLF split between chunks', () => {
    const parser = new SseParser();
    expect([...parser.push('data: one\r'), ...parser.push('\n\r\n'), ...parser.push('data: two\r\r')]).toEqual([
      { event: 'message', data: 'one', lastEventId: '' },
      { event: 'message', data: 'two', lastEventId: '' },
    ]);
  });

  it('skips comment lines (heartbeats) and joins multi-line data', () => {
    const parser = new SseParser();
    expect(parser.push(': heartbeat\n\ndata: a\ndata: b\n\n')).toEqual([{ event: 'message', data: 'a\nb', lastEventId: '' }]);
  });

  it("remembers the server's retry delay and keeps the last id for later events", () => {
    const parser = new SseParser();
    parser.push('retry: 1500\n\nid: 7\ndata: x\n\n');
    expect(parser.retryMs).toBe(1500);
    expect(parser.push('data: y\n\n')).toEqual([{ event: 'message', data: 'y', lastEventId: '7' }]);
  });
});
