import { parseListQuery } from './list-query';

const now = new Date('2026-01-01T10:00:00.000Z');
const id = '01jd0000000000000000000000';

describe('list query', () => {
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
});
