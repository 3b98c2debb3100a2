/**
 * How much a job may write to /io and its root file system together: Hail's rule, the
 * requested storage plus a reserved 5 GiB per core, at most 5 GiB of it
 * (min(5, int(cores × 5)) GiB; 0.25 cores get 1 GiB). Zero means no limit, as an xfs
 * project quota of 0 is no limit on Hail's workers.
 */
export const RESERVED_STORAGE_GIB_PER_CORE = 5;
const GIB = 1024 ** 3;

export function storageQuotaBytes(resources: { cores_mcpu: number; storage_gib: number }): number {
  const reserved = Math.min(RESERVED_STORAGE_GIB_PER_CORE, Math.floor((resources.cores_mcpu / 1000) * RESERVED_STORAGE_GIB_PER_CORE));
  return Math.round((resources.storage_gib + reserved) * GIB);
}
