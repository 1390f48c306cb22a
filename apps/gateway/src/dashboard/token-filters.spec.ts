import { filtersQueryString, readFilters, toListQuery } from './token-filters';

const now = new Date('2026-01-01T12:00:00.000Z');

describe("the token list's filters", () => {
  it('become the REST API list query, with the same rules', () => {
    const filters = readFilters({
      status: ['waiting', 'COMPLETED'],
      tags: 'order:1, vip',
      idempotencyKey: 'approve-1',
      period: '1h',
      to: '2026-01-01T11:30',
      size: '10',
    });
    expect(toListQuery(filters, now)).toEqual({
      ok: true,
      value: {
        pageSize: 10,
        statuses: ['WAITING', 'COMPLETED'],
        tags: ['order:1', 'vip'],
        idempotencyKey: 'approve-1',
        createdFrom: '2026-01-01T11:00:00.000Z',
        createdTo: '2026-01-01T11:30:00.000Z',
      },
    });
  });

  it('treat empty form fields as unset', () => {
    const filters = readFilters({ status: '', tags: '', idempotencyKey: '', period: '', from: '', to: '' });
    expect(toListQuery(filters, now)).toEqual({ ok: true, value: { pageSize: 25 } });
  });

  it('read a datetime-local value as UTC, the time zone the dashboard shows', () => {
    const parsed = toListQuery(readFilters({ from: '2026-01-01T08:15' }), now);
    expect(parsed.ok && parsed.value.createdFrom).toBe('2026-01-01T08:15:00.000Z');
  });

  it("report a bad value with the form field's name", () => {
    const parsed = toListQuery(readFilters({ period: 'soon' }), now);
    expect(parsed).toEqual({ ok: false, message: expect.stringContaining('Created within "soon" is not valid') });
  });

  it('ignore unknown statuses rather than failing the page', () => {
    expect(readFilters({ status: 'WAITING,BOGUS' }).status).toEqual(['WAITING']);
  });

  it('round-trip through the query string, with the cursor swapped', () => {
    const filters = readFilters({ status: 'TIMED_OUT', tags: 'a', after: 'x' });
    expect(filtersQueryString(filters, { before: '01jd0000000000000000000000' })).toBe(
      '?status=TIMED_OUT&tags=a&before=01jd0000000000000000000000',
    );
    expect(filtersQueryString(readFilters({}))).toBe('');
  });
});
