import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SpecError } from '../../domain/errors';
import { DEFAULT_POOLS } from '../../domain/pools';
import { GIB, MIB } from '../../domain/resources';
import { parseJobBunch, type BunchContext } from '../../domain/spec';
import { specError } from './spec-error';

const ctx: BunchContext = { startJobId: 1, nJobsInUpdate: 10, pools: DEFAULT_POOLS, user: 'alice', regions: ['us-central1', 'us-east1'] };
const docker = { type: 'docker', image: 'ubuntu:24.04', command: ['echo', 'hi'] };
const job = (job_id: number, extra: Record<string, unknown> = {}) => ({ job_id, process: docker, ...extra });


const one = (extra: Record<string, unknown>, c: Partial<BunchContext> = {}) => {
  const [spec] = parseJobBunch([job(1, extra)], { ...ctx, ...c });
  if (!spec) throw new Error('no spec');
  return spec;
};

describe('parseJobBunch: a minimal job', () => {
  it('normalizes with Hail defaults', () => {
    expect(parseJobBunch([job(1)], ctx)).toEqual([
      {
        job_id: 1,
        parent_ids: [],
        process: { type: 'docker', image: 'ubuntu:24.04', command: ['echo', 'hi'] },
        resources: { cores_mcpu: 1000, memory_bytes: 3840 * MIB, storage_gib: 0, preemptible: true, machine_type: null },
        pool: 'standard',
        env: [],
        attributes: {},
        always_run: false,
        n_max_attempts: 20,
        always_copy_output: true,
        timeout: null,
        input_files: [],
        output_files: [],
        regions: null,
        job_group_id: 0,
        port: null,
      },
    ]);
  });

  it('accepts an empty bunch', () => {
    expect(parseJobBunch([], ctx)).toEqual([]);
  });

  it('rejects a bunch that is not a list', () => {
    const e = specError(() => parseJobBunch({ job_id: 1 }, ctx));
    expect(e.field).toBe('bunch');
    expect(e.message).toBe('bunch: expected a list of job specs');
  });
});

describe('job ids', () => {
  it('turn in-update ids into absolute ids', () => {
    const specs = parseJobBunch([job(3), job(4), job(5)], { ...ctx, startJobId: 101 });
    expect(specs.map((s) => s.job_id)).toEqual([103, 104, 105]);
  });

  it('must be contiguous within a bunch', () => {
    const e = specError(() => parseJobBunch([job(1), job(2), job(4)], ctx));
    expect(e.field).toBe('bunch[2].job_id');
    expect(e.message).toBe('bunch[2].job_id: job ids in a bunch must be contiguous; expected 3 after 2, found 4');
    expect(() => parseJobBunch([job(2), job(1)], ctx)).toThrow(/contiguous/);
    expect(() => parseJobBunch([job(1), job(1)], ctx)).toThrow(/contiguous/);
  });

  it('must be within the update', () => {
    expect(specError(() => parseJobBunch([job(0)], ctx)).message).toMatch(/^bunch\[0\]\.job_id: job id 0 is out of range/);
    expect(specError(() => parseJobBunch([job(11)], ctx)).message).toContain('this update has jobs 1 to 10');
    expect(specError(() => parseJobBunch([job(9), job(10), job(11)], ctx)).field).toBe('bunch[2].job_id');
  });

  it('are required and must be integers', () => {
    expect(specError(() => parseJobBunch([{ process: docker }], ctx)).field).toBe('bunch[0].job_id');
    expect(specError(() => parseJobBunch([job(1.5)], ctx)).message).toMatch(/expected an integer/);
  });
});

describe('process', () => {
  it('is required', () => {
    expect(specError(() => parseJobBunch([{ job_id: 1 }], ctx)).message).toBe("bunch[0].process: 'process' is required");
  });

  it('rejects jvm jobs clearly', () => {
    const jvm = { type: 'jvm', jar_spec: { type: 'jar_url', value: 'gs://x.jar' }, command: [], profile: false };
    const e = specError(() => parseJobBunch([{ job_id: 1, process: jvm }], ctx));
    expect(e.field).toBe('bunch[0].process.type');
    expect(e.message).toContain('jvm jobs are not supported');
  });

  it('rejects unknown process types and keys', () => {
    expect(specError(() => one({ process: { ...docker, type: 'vm' } })).message).toContain("unknown process type 'vm'");
    expect(specError(() => one({ process: { ...docker, entrypoint: 'x' } })).field).toBe('bunch[0].process.entrypoint');
    expect(specError(() => one({ process: { type: 'docker', command: [] } })).field).toBe('bunch[0].process.image');
    expect(specError(() => one({ process: { ...docker, command: 'echo hi' } })).message).toMatch(/command: expected a list/);
    expect(specError(() => one({ process: { ...docker, command: ['a', 1] } })).field).toBe('bunch[0].process.command[1]');
  });

  it('allows mount_docker_socket only when false', () => {
    expect(one({ process: { ...docker, mount_docker_socket: false } }).process.image).toBe('ubuntu:24.04');
    expect(() => one({ process: { ...docker, mount_docker_socket: true } })).toThrow(
      'bunch[0].process.mount_docker_socket: mount_docker_socket is no longer supported but was set to True in request. Please upgrade.',
    );
  });
});

describe('resources', () => {
  it('gives 1 cpu + 7Gi two standard cores', () => {
    expect(one({ resources: { cpu: '1', memory: '7Gi' } })).toMatchObject({
      pool: 'standard',
      resources: { cores_mcpu: 2000, memory_bytes: 2 * 3840 * MIB },
    });
  });

  it('honours keywords, storage and preemptible', () => {
    expect(one({ resources: { cpu: '0.25', memory: 'lowmem', storage: '10Gi', preemptible: false } })).toMatchObject({
      pool: 'highcpu',
      resources: { cores_mcpu: 250, memory_bytes: 231 * MIB, storage_gib: 10, preemptible: false, machine_type: null },
    });
    expect(one({ resources: { memory: 'highmem' } })).toMatchObject({ pool: 'highmem', resources: { cores_mcpu: 1000 } });
  });

  it('uses a job-private VM for a machine type', () => {
    expect(one({ resources: { machine_type: 'n1-standard-4', storage: '20G' } })).toMatchObject({
      pool: 'job-private',
      resources: { cores_mcpu: 4000, memory_bytes: 4 * 3840 * MIB, storage_gib: 19, machine_type: 'n1-standard-4' },
    });
  });

  it('rejects machine_type with cpu or memory', () => {
    for (const extra of [{ cpu: '1' }, { memory: '4Gi' }]) {
      const e = specError(() => one({ resources: { machine_type: 'n1-standard-4', ...extra } }));
      expect(e.field).toBe('bunch[0].resources.machine_type');
      expect(e.message).toContain('cannot be combined with cpu or memory');
    }
  });

  it('names the field of a bad value', () => {
    const e = specError(() => parseJobBunch([job(1), job(2), job(3), job(4, { resources: { memory: '7Gx' } })], ctx));
    expect(e.field).toBe('bunch[3].resources.memory');
    expect(e.message).toMatch(/^bunch\[3\]\.resources\.memory: invalid memory '7Gx'; expected lowmem, standard, highmem/);
    expect(specError(() => one({ resources: { cpu: '0.3' } })).field).toBe('bunch[0].resources.cpu');
    expect(specError(() => one({ resources: { storage: '100Ti' } })).field).toBe('bunch[0].resources.storage');
    expect(specError(() => one({ resources: { gpu: 1 } })).field).toBe('bunch[0].resources.gpu');
  });

  it('says when nothing can run the job', () => {
    expect(specError(() => one({ resources: { cpu: '32' } })).message).toMatch(/^bunch\[0\]\.resources: .*unsatisfiable/);
    expect(() => one({ resources: { memory: '500Gi' } })).toThrow(/unsatisfiable/);
  });

  it("words bad and unsatisfiable requests as Hail's clients match them", () => {
    expect(specError(() => one({ resources: { cpu: '1', memory: '250Gi', storage: '1Gi' } })).message).toMatch(
      /^bunch\[0\]\.resources: resource requests for job 1 are unsatisfiable: cpu=1, memory=250Gi, storage=1Gi, preemptible=True, machine_type=None \(.+\)$/,
    );
    const storage = specError(() => one({ resources: { cpu: '0.25', memory: '500Mi', storage: '10000000Gi' } }));
    expect(storage.field).toBe('bunch[0].resources.storage');
    expect(storage.message).toMatch(/resource requests for job 1 are unsatisfiable: .*storage=10000000Gi/);
    expect(specError(() => one({ resources: { machine_type: 'n1-standard-1', storage: '10000000Gi', preemptible: false } })).message).toMatch(
      /unsatisfiable: cpu=None, memory=None, storage=10000000Gi, preemptible=False, machine_type=n1-standard-1/,
    );
    for (const cpu of ['0', '0.1']) {
      expect(specError(() => one({ resources: { cpu } })).message).toBe(
        `bunch[0].resources.cpu: bad resource request for job 1: cpu must be a power of two with a min of 0.25; found ${cpu}.`,
      );
    }
    expect(specError(() => one({ resources: { cpu: '0.25', memory: 'foo' } })).message).toMatch(
      /resources\.memory must match regex:.*resources\.memory must be one of: lowmem, standard, highmem$/,
    );
  });

  it('keeps the request exact for a size that fits a pool slot', () => {
    expect(one({ resources: { cpu: 2, memory: 7.5 * GIB } }).resources.cores_mcpu).toBe(2000);
  });
});

describe('parents', () => {
  const ctx2: BunchContext = { ...ctx, startJobId: 11, nJobsInUpdate: 5 };

  it('combines absolute, in-update and legacy parent ids into absolute ids', () => {
    const specs = parseJobBunch(
      [job(1, { absolute_parent_ids: [3] }), job(2, { in_update_parent_ids: [1], parent_ids: [10] })],
      ctx2,
    );
    expect(specs.map((s) => s.parent_ids)).toEqual([[3], [10, 11]]);
  });

  it('allows absolute parents earlier in the same update', () => {
    expect(parseJobBunch([job(1), job(2, { absolute_parent_ids: [11] })], ctx2)[1]?.parent_ids).toEqual([11]);
  });

  it('rejects parents that are not earlier jobs', () => {
    expect(specError(() => parseJobBunch([job(1, { absolute_parent_ids: [11] })], ctx2)).message).toBe(
      'bunch[0].absolute_parent_ids[0]: parent 11 must be an earlier job of this batch (1 to 10)',
    );
    expect(specError(() => parseJobBunch([job(1, { absolute_parent_ids: [0] })], ctx2)).field).toBe(
      'bunch[0].absolute_parent_ids[0]',
    );
    expect(specError(() => parseJobBunch([job(1, { parent_ids: [12] })], ctx2)).field).toBe('bunch[0].parent_ids[0]');
    expect(specError(() => parseJobBunch([job(1), job(2, { in_update_parent_ids: [2] })], ctx2)).message).toBe(
      'bunch[1].in_update_parent_ids[0]: parent 2 must be an earlier job of this update (1 to 1)',
    );
    expect(() => parseJobBunch([job(1, { in_update_parent_ids: [-1] })], ctx2)).toThrow(SpecError);
  });

  it('rejects duplicate parents, also across the lists', () => {
    expect(specError(() => parseJobBunch([job(1, { absolute_parent_ids: [2, 2] })], ctx2)).message).toBe(
      'bunch[0].absolute_parent_ids[1]: duplicate parent: job 2 is already a parent of this job',
    );
    const e = specError(() =>
      parseJobBunch([job(1), job(2, { absolute_parent_ids: [11], in_update_parent_ids: [1] })], ctx2),
    );
    expect(e.field).toBe('bunch[1].in_update_parent_ids[0]');
  });

  it('rejects parent lists of the wrong shape', () => {
    expect(specError(() => one({ absolute_parent_ids: 1 })).message).toMatch(/absolute_parent_ids: expected a list/);
    expect(specError(() => one({ in_update_parent_ids: ['1'] }, { startJobId: 1 })).field).toBe(
      'bunch[0].in_update_parent_ids[0]',
    );
  });
});

describe('job groups', () => {
  it('defaults to the root group', () => {
    expect(one({}).job_group_id).toBe(0);
    expect(one({ in_update_job_group_id: 0 }).job_group_id).toBe(0);
  });

  it('maps in-update group ids to absolute ones', () => {
    expect(one({ in_update_job_group_id: 2 }, { startJobGroupId: 5, nJobGroupsInUpdate: 3 }).job_group_id).toBe(6);
    expect(one({ absolute_job_group_id: 4 }).job_group_id).toBe(4);
  });

  it('rejects groups outside the update and both kinds at once', () => {
    expect(specError(() => one({ in_update_job_group_id: 2 }, { nJobGroupsInUpdate: 1 })).message).toContain(
      'job group 2 is not in this update',
    );
    expect(specError(() => one({ absolute_job_group_id: 1, in_update_job_group_id: 1 })).message).toContain('not both');
    expect(specError(() => one({ absolute_job_group_id: -1 })).field).toBe('bunch[0].absolute_job_group_id');
  });
});

describe('parents, as a property', () => {
  it('always come out absolute, earlier than the job, and without duplicates', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { minLength: 1, maxLength: 30 }),
        (first, startJobId, picks) => {
          const n = first + picks.length - 1;
          const bunch = picks.map(([a, b, inUpdate], i) => {
            const inUpdateId = first + i;
            const extra =
              inUpdate && inUpdateId > 1
                ? { in_update_parent_ids: [...new Set([(a % (inUpdateId - 1)) + 1, (b % (inUpdateId - 1)) + 1])] }
                : startJobId + inUpdateId - 1 > 1
                  ? { absolute_parent_ids: [(a % (startJobId + inUpdateId - 2)) + 1] }
                  : {};
            return job(inUpdateId, extra);
          });
          const specs = parseJobBunch(bunch, { ...ctx, startJobId, nJobsInUpdate: n });
          specs.forEach((spec, i) => {
            expect(spec.job_id).toBe(startJobId + first + i - 1);
            expect(new Set(spec.parent_ids).size).toBe(spec.parent_ids.length);
            for (const p of spec.parent_ids) {
              expect(p).toBeGreaterThanOrEqual(1);
              expect(p).toBeLessThan(spec.job_id);
            }
          });
        },
      ),
    );
  });
});
