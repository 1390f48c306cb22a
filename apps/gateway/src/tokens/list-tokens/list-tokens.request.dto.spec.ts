import { declaredFields } from '../../http/request-validation';
import { LIST_QUERY_PARAMETERS, ListTokensRequest, parseListQuery } from './list-tokens.request.dto';

const now = new Date('2026-01-01T10:00:00.000Z');
const id = '01jd0000000000000000000000';

describe('the list query', () => {
  it('defaults to 25 newest tokens', () => {
    expect(parseListQuery({}, now)).toEqual({ ok: true, value: { pageSize: 25 } });
  });

  it('reads every filter the SDK sends', () => {
    const parsed = parseListQuery(
      {
        'page[size]': '10',
        'page[after]': `waitpoint_${id}`,
        'filter[status]': 'WAITING,TIMED_OUT',
        'filter[idempotencyKey]': 'k',
        'filter[tags]': 'a,b',
        'filter[createdAt][from]': String(now.getTime() - 1000),
        'filter[createdAt][to]': '2026-01-01T11:00:00Z',
      },
      now,
    );
    expect(parsed).toEqual({
      ok: true,
      value: {
        pageSize: 10,
        after: id,
        statuses: ['WAITING', 'TIMED_OUT'],
        idempotencyKey: 'k',
        tags: ['a', 'b'],
        createdFrom: '2026-01-01T09:59:59.000Z',
        createdTo: '2026-01-01T11:00:00.000Z',
      },
    });
  });

  it('lets the later of period and from bound the start', () => {
    const parsed = parseListQuery({ 'filter[createdAt][period]': '1h', 'filter[createdAt][from]': '2026-01-01T09:30:00Z' }, now);
    expect(parsed.ok && parsed.value.createdFrom).toBe('2026-01-01T09:30:00.000Z');
  });

  it('prefers before over after', () => {
    const parsed = parseListQuery({ 'page[after]': id, 'page[before]': id }, now);
    expect(parsed).toEqual({ ok: true, value: { pageSize: 25, before: id } });
  });

  it.each([
    [{ 'page[size]': '0' }, 'page[size]'],
    [{ 'page[size]': '101' }, 'page[size]'],
    [{ 'page[size]': '-5' }, 'page[size]'],
    [{ 'page[size]': 'ten' }, 'page[size]'],
    [{ 'page[after]': 'not-a-cursor' }, 'page[after]'],
    [{ 'filter[status]': 'DONE' }, 'filter[status]'],
    [{ 'filter[createdAt][period]': 'forever' }, 'filter[createdAt][period]'],
    [{ 'filter[createdAt][from]': 'yesterday' }, 'filter[createdAt][from]'],
    [{ 'filter[stauts]': 'WAITING' }, 'unknown query parameter filter[stauts]'],
    // Dates PostgreSQL cannot store were 500s: far periods, year 0, epochs past year 9999.
    [{ 'filter[createdAt][period]': '1000000d' }, 'longer than 100 years'],
    [{ 'filter[createdAt][from]': '0000-01-01' }, 'out of range'],
    [{ 'filter[createdAt][to]': '999999999999999' }, 'out of range'],
  ])('rejects %p naming %s', (query, name) => {
    const parsed = parseListQuery(query, now);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toContain(name);
  });

  it('reads a repeated list parameter as one comma-separated list', () => {
    expect(parseListQuery({ 'filter[status]': ['waiting', 'COMPLETED'], 'filter[tags]': ['a', 'b,c'] }, now)).toEqual({
      ok: true,
      value: { pageSize: 25, statuses: ['WAITING', 'COMPLETED'], tags: ['a', 'b', 'c'] },
    });
  });

  it('refuses a single-valued parameter given twice', () => {
    expect(parseListQuery({ 'page[size]': ['10', '10'] }, now)).toEqual({
      ok: false,
      message: 'page[size] was given 2 times; give it once',
    });
  });

  it('names every problem at once: unknown parameters first, then the others in the documented order', () => {
    const parsed = parseListQuery({ 'filter[stauts]': 'x', 'filter[status]': 'DONE', 'page[size]': '0', 'page[nmber]': '2' }, now);
    const message = parsed.ok ? '' : parsed.message;
    const order = [
      'unknown query parameter filter[stauts]',
      'unknown query parameter page[nmber]',
      'page[size] must',
      'filter[status] accepts',
    ];
    expect(order.map((start) => message.indexOf(start))).toEqual([...order.map((start) => message.indexOf(start))].sort((a, b) => a - b));
    expect(order.every((start) => message.includes(start))).toBe(true);
  });

  it('leaves other parameters alone (caches and proxies add their own)', () => {
    expect(parseListQuery({ _: '123', utm_source: 'x' }, now)).toEqual({ ok: true, value: { pageSize: 25 } });
  });

  it('documents exactly the parameters it declares', () => {
    expect(LIST_QUERY_PARAMETERS).toEqual(declaredFields(ListTokensRequest));
    expect(LIST_QUERY_PARAMETERS).toEqual([
      'page[size]',
      'page[after]',
      'page[before]',
      'filter[status]',
      'filter[idempotencyKey]',
      'filter[tags]',
      'filter[createdAt][period]',
      'filter[createdAt][from]',
      'filter[createdAt][to]',
    ]);
  });
});
