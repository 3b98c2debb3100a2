import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_FAILED_REQUESTS, UNHEARD_MS, instancesToProbe, retirementReason, type Hearing, type InstanceHealth } from '../../domain/instance-health';
import { STUCK_PENDING_MS } from '../../domain/autoscaler';

const NOW = 1_000_000_000;
const healthy: InstanceHealth = { state: 'active', reason: null, createdAtMs: NOW - 60_000, failedRequests: 0, machineExists: true };

describe('retirementReason', () => {
  it('keeps a healthy active or young pending instance', () => {
    expect(retirementReason(healthy, NOW)).toBeNull();
    expect(retirementReason({ ...healthy, state: 'pending' }, NOW)).toBeNull();
    expect(retirementReason({ ...healthy, failedRequests: MAX_FAILED_REQUESTS }, NOW)).toBeNull();
  });

  it('deletes a deactivated instance with the reason it was deactivated for', () => {
    expect(retirementReason({ ...healthy, state: 'inactive', reason: 'preempted' }, NOW)).toBe('preempted');
    expect(retirementReason({ ...healthy, state: 'inactive', reason: 'idle' }, NOW)).toBe('idle');
    expect(retirementReason({ ...healthy, state: 'inactive' }, NOW)).toBe('deactivated');
    // A preempted machine is gone too; the preemption is what counts.
    expect(retirementReason({ ...healthy, state: 'inactive', reason: 'preempted', machineExists: false }, NOW)).toBe('preempted');
  });

  it('deletes instances whose machine vanished, pending or active', () => {
    expect(retirementReason({ ...healthy, machineExists: false }, NOW)).toBe('machine vanished');
    expect(retirementReason({ ...healthy, state: 'pending', machineExists: false }, NOW)).toBe('machine vanished');
  });

  it('deletes a VM stuck pending for 5 minutes, not an active one of that age', () => {
    const old = NOW - STUCK_PENDING_MS;
    expect(retirementReason({ ...healthy, state: 'pending', createdAtMs: old }, NOW)).toBe('stuck pending');
    expect(retirementReason({ ...healthy, state: 'pending', createdAtMs: old + 1 }, NOW)).toBeNull();
    expect(retirementReason({ ...healthy, createdAtMs: old - 1 }, NOW)).toBeNull();
  });

  it('deletes an instance after more than 5 failed requests', () => {
    expect(retirementReason({ ...healthy, failedRequests: MAX_FAILED_REQUESTS + 1 }, NOW)).toBe('failed requests');
  });

  it('leaves deleted instances alone', () => {
    expect(retirementReason({ ...healthy, state: 'deleted', machineExists: false }, NOW)).toBeNull();
  });
});

describe('instancesToProbe', () => {
  const heard = (name: string, agoMs: number | null, state: Hearing['state'] = 'active'): Hearing => ({
    name,
    state,
    lastHeardMs: agoMs === null ? null : NOW - agoMs,
  });

  it('calls active instances unheard for a minute or more, the longest unheard first', () => {
    const picked = instancesToProbe(
      [heard('fresh', 5_000), heard('old', 90_000), heard('older', 300_000), heard('edge', UNHEARD_MS), heard('gone', 999_999, 'inactive'), heard('pending', 999_999, 'pending'), heard('never', null)],
      NOW,
    );
    expect(picked.map((i) => i.name)).toEqual(['older', 'old', 'edge']);
  });

  it('never calls more than the limit, and only unheard active ones', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ ago: fc.option(fc.nat(200_000), { nil: null }), state: fc.constantFrom('pending', 'active', 'inactive', 'deleted') as fc.Arbitrary<Hearing['state']> })),
        fc.integer({ min: 0, max: 10 }),
        (rows, max) => {
          const instances = rows.map((r, k) => heard(`i${k}`, r.ago, r.state));
          const picked = instancesToProbe(instances, NOW, UNHEARD_MS, max);
          expect(picked.length).toBeLessThanOrEqual(max);
          for (const p of picked) {
            expect(p.state).toBe('active');
            expect(NOW - (p.lastHeardMs ?? NOW)).toBeGreaterThanOrEqual(UNHEARD_MS);
          }
          const eligible = instances.filter((i) => i.state === 'active' && i.lastHeardMs !== null && NOW - i.lastHeardMs >= UNHEARD_MS);
          expect(picked.length).toBe(Math.min(max, eligible.length));
        },
      ),
    );
  });
});
