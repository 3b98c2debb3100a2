import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SpecError } from '../../domain/errors';
import { isoTime, parseBillingDate, parseIsoTimestamp } from '../../domain/time';

describe('isoTime', () => {
  it('formats UTC with milliseconds and a trailing Z', () => {
    expect(isoTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678Z');
    expect(isoTime(0)).toBe('1970-01-01T00:00:00.000Z');
  });

  it('passes null through', () => {
    expect(isoTime(null)).toBeNull();
  });

  it('round-trips through parseIsoTimestamp', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }), (ms) => {
        const text = isoTime(ms);
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        expect(parseIsoTimestamp(text ?? '')).toBe(ms);
      }),
    );
  });
});

describe('parseBillingDate', () => {
  it('reads MM/DD/YYYY as midnight UTC', () => {
    expect(parseBillingDate('01/31/2026')).toBe(Date.UTC(2026, 0, 31));
    expect(parseBillingDate('2/29/2024')).toBe(Date.UTC(2024, 1, 29));
    expect(parseBillingDate('12/01/1999')).toBe(Date.UTC(1999, 11, 1));
  });

  it.each(['2026-01-31', '13/01/2026', '00/10/2026', '02/30/2026', '02/29/2025', '1/1/26', '', 'today'])(
    'rejects %j naming the field',
    (text) => {
      let error: unknown;
      try {
        parseBillingDate(text, 'start');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SpecError);
      expect((error as SpecError).field).toBe('start');
      expect((error as SpecError).message).toMatch(/^start: invalid date .*expected MM\/DD\/YYYY/);
    },
  );
});

describe('parseIsoTimestamp', () => {
  it('reads zones and fractions', () => {
    expect(parseIsoTimestamp('2026-01-02T03:04:05Z')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseIsoTimestamp('2026-01-02T03:04Z')).toBe(Date.UTC(2026, 0, 2, 3, 4));
    expect(parseIsoTimestamp('2026-01-02 03:04:05.5+00:00')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5, 500));
    expect(parseIsoTimestamp('2026-01-02T03:04:05-0530')).toBe(Date.UTC(2026, 0, 2, 8, 34, 5));
    expect(parseIsoTimestamp('2026-01-02T03:04:05.123456+02')).toBe(Date.UTC(2026, 0, 2, 1, 4, 5, 123));
  });

  it('requires a zone and a valid date', () => {
    for (const text of ['2026-01-02T03:04:05', '2026-01-02', '2026-02-30T00:00:00Z', '2026-01-02T24:00:00Z', 'now', '']) {
      expect(parseIsoTimestamp(text)).toBeNull();
    }
  });
});
