import { TokenCommandSubjects, TokenQuerySubjects, TokenRequestBatch, TokenRequestBatchSubject } from '@waitpoints/contracts';
import { DEFAULT_COALESCER_OPTIONS, RequestCoalescer, worstCaseBytes } from './request-coalescer';

interface Sent {
  subject: string;
  payload: any;
}

/** A fake token-service: answers every command with its own tokenId, batches entry by entry. */
function fakeService(fail?: Error) {
  const sent: Sent[] = [];
  const send = async (subject: string, payload: object) => {
    sent.push({ subject, payload });
    if (fail) throw fail;
    if (subject === TokenRequestBatchSubject) {
      return { replies: (payload as TokenRequestBatch).requests.map((r) => ({ ok: true, value: (r.payload as any).tokenId })) };
    }
    return { ok: true, value: (payload as any).tokenId };
  };
  return { sent, send };
}

const complete = (tokenId: string, output = '{}') => ({ tokenId, output, outputType: 'application/json', channel: 'api' });

describe('RequestCoalescer', () => {
  it('sends a command that is alone in its turn on its own subject, unchanged', async () => {
    const service = fakeService();
    const coalescer = new RequestCoalescer(service.send);
    await expect(coalescer.request(TokenCommandSubjects.complete, complete('a'))).resolves.toEqual({ ok: true, value: 'a' });
    expect(service.sent).toEqual([{ subject: TokenCommandSubjects.complete, payload: complete('a') }]);
  });

  it('sends the commands of one turn as one batch message and gives each caller its own reply', async () => {
    const service = fakeService();
    const coalescer = new RequestCoalescer(service.send);
    const replies = await Promise.all([
      coalescer.request(TokenCommandSubjects.complete, complete('a')),
      coalescer.request(TokenCommandSubjects.cancel, { tokenId: 'b' }),
      coalescer.request(TokenCommandSubjects.create, { tokenId: 'c' }),
    ]);
    expect(replies).toEqual([
      { ok: true, value: 'a' },
      { ok: true, value: 'b' },
      { ok: true, value: 'c' },
    ]);
    expect(service.sent).toHaveLength(1);
    expect(service.sent[0].subject).toBe(TokenRequestBatchSubject);
    expect(service.sent[0].payload.requests.map((r: Sent) => r.subject)).toEqual([
      TokenCommandSubjects.complete,
      TokenCommandSubjects.cancel,
      TokenCommandSubjects.create,
    ]);
  });

  it('never batches queries: their replies can be far larger than the request', async () => {
    const service = fakeService();
    const coalescer = new RequestCoalescer(service.send);
    await Promise.all([
      coalescer.request(TokenQuerySubjects.get, { tokenId: 'a' }),
      coalescer.request(TokenQuerySubjects.list, { tokenId: 'b' }),
    ]);
    expect(service.sent.map((s) => s.subject)).toEqual([TokenQuerySubjects.get, TokenQuerySubjects.list]);
  });

  it('sends a command with a large output alone, and splits batches that would outgrow a NATS message', async () => {
    const service = fakeService();
    const coalescer = new RequestCoalescer(service.send);
    const big = 'x'.repeat(DEFAULT_COALESCER_OPTIONS.maxBatchedRequestBytes);
    const medium = 'x'.repeat(20_000); // about 121 KB at worst: four fit under 512 KiB, five do not
    await Promise.all([
      coalescer.request(TokenCommandSubjects.complete, complete('big', big)),
      ...['m1', 'm2', 'm3', 'm4', 'm5'].map((id) => coalescer.request(TokenCommandSubjects.complete, complete(id, medium))),
    ]);
    expect(service.sent.map((s) => (s.subject === TokenRequestBatchSubject ? s.payload.requests.length : s.payload.tokenId))).toEqual([
      'big',
      4,
      'm5',
    ]);
    expect(worstCaseBytes(complete('x', medium)) * 4).toBeLessThanOrEqual(DEFAULT_COALESCER_OPTIONS.maxBatchBytes);
  });

  it('puts at most maxRequests commands in one message', async () => {
    const service = fakeService();
    const coalescer = new RequestCoalescer(service.send, { ...DEFAULT_COALESCER_OPTIONS, maxRequests: 2 });
    await Promise.all(['a', 'b', 'c'].map((id) => coalescer.request(TokenCommandSubjects.complete, complete(id))));
    expect(service.sent.map((s) => (s.subject === TokenRequestBatchSubject ? s.payload.requests.length : 1))).toEqual([2, 1]);
  });

  it('fails every request of a batch whose message failed (say, no token-service answered)', async () => {
    const noResponders = Object.assign(new Error('503'), { code: '503' });
    const coalescer = new RequestCoalescer(fakeService(noResponders).send);
    const outcomes = await Promise.allSettled(['a', 'b'].map((id) => coalescer.request(TokenCommandSubjects.complete, complete(id))));
    expect(outcomes.map((o) => o.status === 'rejected' && o.reason)).toEqual([noResponders, noResponders]);
  });

  it('with maxRequests 1, sends everything on its own subject', async () => {
    const service = fakeService();
    const coalescer = new RequestCoalescer(service.send, { ...DEFAULT_COALESCER_OPTIONS, maxRequests: 1 });
    await Promise.all(['a', 'b'].map((id) => coalescer.request(TokenCommandSubjects.complete, complete(id))));
    expect(service.sent.map((s) => s.subject)).toEqual([TokenCommandSubjects.complete, TokenCommandSubjects.complete]);
  });
});
