import {
  ErrorCode,
  SEND_ALONE,
  TokenCommandSubjects,
  TokenQuerySubjects,
  TokenRequestBatch,
  TokenRequestBatchSubject,
} from '@waitpoints/contracts';
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

  it('batches the small queries (a token, a page) with the commands; never the others (an output chunk, history, counts)', async () => {
    const service = fakeService();
    const coalescer = new RequestCoalescer(service.send);
    await Promise.all([
      coalescer.request(TokenQuerySubjects.get, { tokenId: 'a' }),
      coalescer.request(TokenQuerySubjects.list, { tokenId: 'b' }),
      coalescer.request(TokenCommandSubjects.complete, complete('c')),
      coalescer.request(TokenQuerySubjects.outputChunk, { tokenId: 'd' }),
      coalescer.request(TokenQuerySubjects.history, { tokenId: 'e' }),
      coalescer.request(TokenQuerySubjects.stats, { tokenId: 'f' }),
    ]);
    expect(service.sent.map((s) => s.subject)).toEqual([
      TokenQuerySubjects.outputChunk,
      TokenQuerySubjects.history,
      TokenQuerySubjects.stats,
      TokenRequestBatchSubject,
    ]);
    expect(service.sent[3].payload.requests.map((r: Sent) => r.subject)).toEqual([
      TokenQuerySubjects.get,
      TokenQuerySubjects.list,
      TokenCommandSubjects.complete,
    ]);
  });

  it('sends a query again alone when the batch reply had no room for its answer', async () => {
    const sent: Sent[] = [];
    const send = async (subject: string, payload: any) => {
      sent.push({ subject, payload });
      if (subject !== TokenRequestBatchSubject) return { ok: true, value: `alone ${payload.tokenId}` };
      return { replies: payload.requests.map((r: Sent, i: number) => (i === 0 ? { ok: true, value: r.payload.tokenId } : SEND_ALONE)) };
    };
    const coalescer = new RequestCoalescer(send);
    const replies = await Promise.all([
      coalescer.request(TokenQuerySubjects.get, { tokenId: 'a' }),
      coalescer.request(TokenQuerySubjects.get, { tokenId: 'b' }),
    ]);
    expect(replies).toEqual([
      { ok: true, value: 'a' },
      { ok: true, value: 'alone b' },
    ]);
    expect(sent.map((s) => s.subject)).toEqual([TokenRequestBatchSubject, TokenQuerySubjects.get]);
  });

  it('sends a query again alone when a token-service from before batched queries refused it (a rolling upgrade)', async () => {
    const sent: Sent[] = [];
    const refusal = { ok: false, error: { code: ErrorCode.ValidationFailed, message: 'qry.token.get cannot be sent in a batch' } };
    const send = async (subject: string, payload: any) => {
      sent.push({ subject, payload });
      if (subject !== TokenRequestBatchSubject) return { ok: true, value: `alone ${payload.tokenId}` };
      return { replies: payload.requests.map((r: Sent) => (r.subject === TokenQuerySubjects.get ? refusal : { ok: true, value: 'done' })) };
    };
    const coalescer = new RequestCoalescer(send);
    const replies = await Promise.all([
      coalescer.request(TokenQuerySubjects.get, { tokenId: 'a' }),
      coalescer.request(TokenCommandSubjects.complete, complete('b')),
    ]);
    expect(replies).toEqual([
      { ok: true, value: 'alone a' },
      { ok: true, value: 'done' },
    ]);
  });

  it('never sends a command twice: a command answered "send alone" fails', async () => {
    const send = async (subject: string, payload: any) =>
      subject === TokenRequestBatchSubject ? { replies: payload.requests.map(() => SEND_ALONE) } : { ok: true, value: 'twice' };
    const coalescer = new RequestCoalescer(send);
    const outcomes = await Promise.allSettled(['a', 'b'].map((id) => coalescer.request(TokenCommandSubjects.complete, complete(id))));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
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
