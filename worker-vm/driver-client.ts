/**
 * The agent's calls to the API's worker-facing routes (/api/v1alpha/instances/...). After
 * activation every call carries the instance name and the token activation returned.
 */
import type { Logger } from './logger';
import { delays, sleep, type Backoff } from './retry';
import type { Resource, StatusDocument } from './status';
import type { AttemptOutcome } from '../domain/states';

export type AttemptKey = { batch_id: number; job_id: number; attempt_id: string };

export type JobStartedStatus = AttemptKey & { start_time: number; resources: Resource[] };

export type JobCompleteBody = {
  status: AttemptKey & {
    job_group_id: number;
    state: AttemptOutcome;
    start_time: number | null;
    end_time: number;
    exit_code: number | null;
    status: StatusDocument;
  };
  marked_job_started: boolean;
};

const REQUEST_TIMEOUT_MS = 30_000;
const ACTIVATE_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000 };
// Hail's worker: job_complete retries forever, from 0.1 s doubling up to 2 minutes.
const COMPLETE_BACKOFF: Backoff = { initialMs: 100, maxMs: 120_000 };
const STARTED_BACKOFF: Backoff = { initialMs: 100, maxMs: 5_000 };
const STARTED_TRIES = 6;

type Outcome = 'ok' | 'rejected' | 'retry';

export class DriverClient {
  private token: string | null = null;

  constructor(
    private readonly opts: {
      apiUrl: string;
      name: string;
      activationToken: string;
      /** Aborted when the agent stops: pending retries give up. */
      signal: AbortSignal;
      log: Logger;
    },
  ) {}

  get activated(): boolean {
    return this.token !== null;
  }

  /** Retries until the API accepts the activation token; resolves false only if aborted. */
  async activate(body: { ip_address: string; port: number }): Promise<boolean> {
    for (const delay of delays(ACTIVATE_BACKOFF)) {
      if (this.opts.signal.aborted) return false;
      try {
        const res = await this.send('activate', body, this.opts.activationToken, this.opts.signal);
        if (res.ok) {
          const reply = (await res.json()) as { token?: unknown };
          if (typeof reply.token === 'string' && reply.token !== '') {
            this.token = reply.token;
            return true;
          }
          this.opts.log.warn('activate reply carried no token');
        } else {
          this.opts.log.warn('activate refused', { status: res.status });
        }
      } catch (err) {
        this.opts.log.debug('activate failed', { error: String(err) });
      }
      await sleep(delay, this.opts.signal);
    }
    return false;
  }

  async heartbeat(running: AttemptKey[]): Promise<boolean> {
    return (await this.postOnce('heartbeat', { running }, this.opts.signal)) === 'ok';
  }

  /** A few quick tries: job_complete says whether it got through, so it need not be forever. */
  async jobStarted(status: JobStartedStatus): Promise<boolean> {
    let tries = 0;
    for (const delay of delays(STARTED_BACKOFF)) {
      const outcome = await this.postOnce('job_started', { status }, this.opts.signal);
      if (outcome !== 'retry') return outcome === 'ok';
      if (++tries >= STARTED_TRIES || this.opts.signal.aborted) return false;
      await sleep(delay, this.opts.signal);
    }
    return false;
  }

  /** Retries until a 2xx, a definitive 4xx, or the agent stops. */
  async jobComplete(body: JobCompleteBody): Promise<boolean> {
    for (const delay of delays(COMPLETE_BACKOFF)) {
      const outcome = await this.postOnce('job_complete', body, this.opts.signal);
      if (outcome !== 'retry') return outcome === 'ok';
      if (this.opts.signal.aborted) return false;
      await sleep(delay, this.opts.signal);
    }
    return false;
  }

  /** Best effort with its own short deadline: the agent is on its way out anyway. */
  async deactivate(timeoutMs = 5_000): Promise<boolean> {
    return (await this.postOnce('deactivate', {}, AbortSignal.timeout(timeoutMs))) === 'ok';
  }

  private async postOnce(route: string, body: unknown, signal: AbortSignal): Promise<Outcome> {
    if (this.token === null) return 'retry';
    try {
      const res = await this.send(route, body, this.token, signal);
      await res.body?.cancel();
      if (res.ok) return 'ok';
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        this.opts.log.error(`${route} rejected`, { status: res.status });
        return 'rejected';
      }
      this.opts.log.warn(`${route} failed, will retry`, { status: res.status });
      return 'retry';
    } catch (err) {
      if (!signal.aborted) this.opts.log.warn(`${route} failed, will retry`, { error: String(err) });
      return 'retry';
    }
  }

  private send(route: string, body: unknown, token: string, signal: AbortSignal): Promise<Response> {
    return fetch(`${this.opts.apiUrl.replace(/\/$/, '')}/api/v1alpha/instances/${route}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'X-Hail-Instance-Name': this.opts.name,
        'X-Hail-Instance-Token': token,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    });
  }
}
