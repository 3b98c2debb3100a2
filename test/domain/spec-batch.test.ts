import { describe, it, expect } from 'vitest';
import { parseBatchSpec, parseUpdateSpec } from '../../domain/spec';
import { specError } from './spec-error';


describe('parseBatchSpec', () => {
  it('fills in defaults for the optional fields', () => {
    expect(parseBatchSpec({ billing_project: 'test', n_jobs: 3, token: 'abc' })).toEqual({
      billing_project: 'test',
      n_jobs: 3,
      token: 'abc',
      attributes: {},
      callback: null,
      cancel_after_n_failures: null,
      n_job_groups: 0,
    });
  });

  it('keeps everything the client sends', () => {
    expect(
      parseBatchSpec({
        billing_project: 'bp',
        n_jobs: 0,
        n_job_groups: 2,
        token: 't',
        attributes: { name: 'my batch', x: '1' },
        callback: 'https://example.com/cb',
        cancel_after_n_failures: 1,
      }),
    ).toEqual({
      billing_project: 'bp',
      n_jobs: 0,
      n_job_groups: 2,
      token: 't',
      attributes: { name: 'my batch', x: '1' },
      callback: 'https://example.com/cb',
      cancel_after_n_failures: 1,
    });
  });

  it('treats null optional fields as absent', () => {
    const spec = parseBatchSpec({ billing_project: 'bp', n_jobs: 1, token: 't', attributes: null, callback: null });
    expect(spec.attributes).toEqual({});
    expect(spec.callback).toBeNull();
  });

  it.each(['billing_project', 'n_jobs', 'token'])('requires %s', (key) => {
    const body: Record<string, unknown> = { billing_project: 'bp', n_jobs: 1, token: 't' };
    delete body[key];
    const e = specError(() => parseBatchSpec(body));
    expect(e.field).toBe(key);
    expect(e.message).toBe(`${key}: '${key}' is required`);
  });

  it('rejects unknown keys, naming them', () => {
    const e = specError(() => parseBatchSpec({ billing_project: 'bp', n_jobs: 1, token: 't', colour: 'red' }));
    expect(e.field).toBe('colour');
    expect(e.message).toMatch(/^colour: unknown key 'colour'; allowed keys are billing_project, n_jobs/);
  });

  it('prefixes fields with the path it is given', () => {
    const e = specError(() => parseBatchSpec({ billing_project: 'bp', n_jobs: -1, token: 't' }, 'batch'));
    expect(e.field).toBe('batch.n_jobs');
    expect(e.message).toBe('batch.n_jobs: must be at least 0, found -1');
  });

  it.each([
    [{ n_jobs: 1.5 }, 'n_jobs', /expected an integer/],
    [{ n_jobs: '3' }, 'n_jobs', /expected an integer, found string '3'/],
    [{ billing_project: '' }, 'billing_project', /must not be empty/],
    [{ token: 5 }, 'token', /expected a string/],
    [{ attributes: { a: 1 } }, 'attributes.a', /found number .*, which is not <class 'str'>/],
    [{ attributes: ['a'] }, 'attributes', /expected an object of strings/],
    [{ cancel_after_n_failures: 0 }, 'cancel_after_n_failures', /at least 1/],
    [{ n_job_groups: -2 }, 'n_job_groups', /at least 0/],
    [{ callback: 7 }, 'callback', /expected a string/],
  ])('rejects %j', (override, field, message) => {
    const e = specError(() => parseBatchSpec({ billing_project: 'bp', n_jobs: 1, token: 't', ...override }));
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
  });

  it('rejects a body that is not an object', () => {
    for (const body of [null, [], 'batch', 3]) {
      const e = specError(() => parseBatchSpec(body));
      expect(e.field).toBe('body');
      expect(e.message).toMatch(/^body: expected an object/);
    }
  });

  it('keeps a __proto__ attribute as a plain attribute', () => {
    const spec = parseBatchSpec(JSON.parse('{"billing_project":"bp","n_jobs":1,"token":"t","attributes":{"__proto__":"x"}}'));
    expect(Object.getPrototypeOf(spec.attributes)).toBe(Object.prototype);
    expect(Object.entries(spec.attributes)).toEqual([['__proto__', 'x']]);
  });
});

describe('parseUpdateSpec', () => {
  it('reads token, n_jobs and n_job_groups', () => {
    expect(parseUpdateSpec({ token: 'u', n_jobs: 5 })).toEqual({ token: 'u', n_jobs: 5, n_job_groups: 0 });
    expect(parseUpdateSpec({ token: 'u', n_jobs: 0, n_job_groups: 2 })).toEqual({ token: 'u', n_jobs: 0, n_job_groups: 2 });
  });

  it('rejects an update that adds nothing', () => {
    expect(specError(() => parseUpdateSpec({ token: 'u', n_jobs: 0 })).message).toBe(
      'n_jobs: an update must add at least one job or job group',
    );
  });

  it('rejects unknown keys and missing fields', () => {
    expect(specError(() => parseUpdateSpec({ token: 'u', n_jobs: 1, billing_project: 'x' })).field).toBe(
      'billing_project',
    );
    expect(specError(() => parseUpdateSpec({ n_jobs: 1 })).field).toBe('token');
    expect(specError(() => parseUpdateSpec({ token: 'u' }, 'update')).field).toBe('update.n_jobs');
  });
});
