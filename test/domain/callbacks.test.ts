/**
 * The pure rules of callbacks: the backoff between tries, when the service gives up, and which
 * URLs it never calls.
 */
import { describe, expect, it } from 'vitest';
import { callbackRefusal, DEFAULT_CALLBACK_RETRY, nextAttemptAt, retryDelayMs } from '../../domain/callbacks';

describe('callback backoff', () => {
  it('waits 1 s after the first failure and doubles up to 5 minutes', () => {
    const delays = Array.from({ length: 12 }, (_, i) => retryDelayMs(DEFAULT_CALLBACK_RETRY, i + 1));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000]);
    expect(retryDelayMs(DEFAULT_CALLBACK_RETRY, 10_000)).toBe(300_000);
  });

  it('gives up after the last try or once the next try would pass the maximum age', () => {
    const p = { ...DEFAULT_CALLBACK_RETRY, maxAttempts: 3 };
    expect(nextAttemptAt(p, 1, 0, 10)).toBe(1010);
    expect(nextAttemptAt(p, 2, 0, 10)).toBe(2010);
    expect(nextAttemptAt(p, 3, 0, 10)).toBeNull();
    const young = { ...DEFAULT_CALLBACK_RETRY, maxAgeMs: 60_000 };
    expect(nextAttemptAt(young, 1, 0, 58_500)).toBe(59_500);
    expect(nextAttemptAt(young, 2, 0, 58_500)).toBeNull();
  });
});

describe('callback URLs the service never calls', () => {
  const own = ['http://127.0.0.1:5050', 'http://batch.example.org'];

  it('refuses the API itself, under any loopback name on its port', () => {
    for (const u of [
      'http://127.0.0.1:5050/api/v1alpha/batches/1/cancel',
      'http://localhost:5050/x',
      'http://LOCALHOST.:5050/',
      'http://127.9.9.9:5050/',
      'http://[::1]:5050/',
      'http://0.0.0.0:5050/',
      'http://batch.example.org/api',
      'http://batch.example.org:80/api',
    ]) {
      expect(callbackRefusal(u, own), u).toBe('the URL is the batch service itself');
    }
  });

  it('allows other ports and hosts', () => {
    expect(callbackRefusal('http://127.0.0.1:5051/cb', own)).toBeNull();
    expect(callbackRefusal('https://batch.example.org/cb', own)).toBeNull();
    expect(callbackRefusal('https://hooks.example.com/cb', own)).toBeNull();
  });

  it('refuses what storage should never hold: other schemes, non-URLs, credentials', () => {
    expect(callbackRefusal('file:///etc/passwd', own)).toMatch(/scheme/);
    expect(callbackRefusal('not a url', own)).toMatch(/absolute/);
    expect(callbackRefusal('http://u:p@hooks.example.com/', own)).toMatch(/credentials/);
  });
});
