/** Location choice and cloud error classes: pure rules. */
import { describe, expect, it } from 'vitest';
import { avoid, chooseLocation, takeCores, type Location } from '../../domain/locations';
import { classifyCloudError, retryDelayMs } from '../../domain/cloud-errors';

const loc = (name: string, region: string, coresLeft: number, pricePerCoreHour: number): Location => ({ name, region, coresLeft, pricePerCoreHour });
const zones = [loc('us-central1-a', 'us-central1', 100, 0.01), loc('us-central1-b', 'us-central1', 100, 0.01), loc('us-east1-b', 'us-east1', 100, 0.02), loc('us-west1-a', 'us-west1', 2, 0.005)];
const pick = (over: Partial<Parameters<typeof chooseLocation>[0]> = {}) =>
  chooseLocation({ locations: zones, regions: null, cores: 4, avoided: new Map(), nowMs: 1000, turn: 0, ...over });

describe('chooseLocation', () => {
  it('takes the cheapest location with quota left, within the job regions', () => {
    expect(pick()).toBe('us-central1-a'); // us-west1-a is cheaper but has 2 cores left
    expect(pick({ cores: 2 })).toBe('us-west1-a');
    expect(pick({ regions: ['us-east1'] })).toBe('us-east1-b');
    expect(pick({ regions: ['europe-west1'] })).toBeNull();
    expect(pick({ cores: 101 })).toBeNull();
  });
  it('spreads over equally cheap locations', () => {
    expect([0, 1, 2, 3].map((turn) => pick({ turn }))).toEqual(['us-central1-a', 'us-central1-b', 'us-central1-a', 'us-central1-b']);
  });
  it('avoids a location that refused capacity until the time is over, unless nothing else is open', () => {
    const avoided = avoid(new Map(), 'us-central1-a', 1000, 60_000);
    expect([0, 1].map((turn) => pick({ avoided, turn }))).toEqual(['us-central1-b', 'us-central1-b']);
    expect(pick({ avoided, nowMs: 61_001 })).toBe('us-central1-a');
    expect(pick({ avoided, regions: ['us-central1'], locations: zones.slice(0, 1) })).toBe('us-central1-a');
    // Expired entries are dropped as new ones are added.
    expect([...avoid(avoided, 'us-east1-b', 70_000).keys()]).toEqual(['us-east1-b']);
  });
  it('counts cores taken by earlier picks of the same loop', () => {
    const after = takeCores(zones, 'us-west1-a', 2);
    expect(chooseLocation({ locations: after, regions: null, cores: 2, avoided: new Map(), nowMs: 0, turn: 0 })).toBe('us-central1-a');
  });
});

describe('classifyCloudError', () => {
  it('retries rate limits and server errors, routes capacity and quota elsewhere', () => {
    expect(classifyCloudError(429, null)).toBe('retry');
    expect(classifyCloudError(503, 'backendError')).toBe('retry');
    expect(classifyCloudError(null, null)).toBe('retry');
    expect(classifyCloudError(200, 'ZONE_RESOURCE_POOL_EXHAUSTED')).toBe('capacity');
    expect(classifyCloudError(200, 'AllocationFailed')).toBe('capacity');
    expect(classifyCloudError(403, 'QUOTA_EXCEEDED')).toBe('quota');
    expect(classifyCloudError(409, 'OperationNotAllowed')).toBe('quota');
    expect(classifyCloudError(404, 'notFound')).toBe('not-found');
    expect(classifyCloudError(409, 'alreadyExists')).toBe('conflict');
    expect(classifyCloudError(400, 'invalid')).toBe('fatal');
  });
  it('waits longer after each try, up to a bound', () => {
    expect([1, 2, 3, 10].map(retryDelayMs)).toEqual([250, 500, 1000, 8000]);
  });
});
