/**
 * Where a new VM goes (Hail's location monitor and zone choice), pure: among the locations the
 * job's regions allow, those with quota left for the VM's cores and not refusing capacity
 * lately, the cheapest; several equally cheap ones share the VMs by a rotating pick, so a burst
 * of VMs spreads over them instead of piling into the first.
 */

/** One zone (GCP) or region (Azure) as the location monitor last read it from the cloud. */
export type Location = {
  /** What a VM is created in: a GCP zone (`us-central1-a`) or an Azure location (`eastus`). */
  name: string;
  /** The region a job's `regions` names (a GCP zone's region; an Azure location itself). */
  region: string;
  /** Cores the quota still allows here (limit minus usage). */
  coresLeft: number;
  /** Price of one core-hour here, in the catalogue's currency (0 when unknown: no preference). */
  pricePerCoreHour: number;
};

/** How long a location that refused capacity (or quota) is left out. Hail waits minutes. */
export const AVOID_MS = 5 * 60_000;

/** Locations that refused a VM lately: name → until when they are left out. */
export type Avoided = ReadonlyMap<string, number>;

export function avoid(avoided: Avoided, location: string, nowMs: number, forMs = AVOID_MS): Map<string, number> {
  const next = new Map([...avoided].filter(([, until]) => until > nowMs));
  next.set(location, nowMs + forMs);
  return next;
}

export type LocationChoice = {
  locations: readonly Location[];
  /** Regions the job allows; null or empty: any. */
  regions: readonly string[] | null;
  cores: number;
  avoided: Avoided;
  nowMs: number;
  /** A counter the caller increases per pick; it rotates among ties. */
  turn: number;
};

/** The location to use, or null when no allowed location has quota left. */
export function chooseLocation(c: LocationChoice): string | null {
  const allowed = c.locations.filter((l) => c.regions === null || c.regions.length === 0 || c.regions.includes(l.region));
  const open = allowed.filter((l) => l.coresLeft >= c.cores);
  // Every open location refusing lately: better to try one again than to make nothing.
  const fresh = open.filter((l) => (c.avoided.get(l.name) ?? 0) <= c.nowMs);
  const pool = fresh.length > 0 ? fresh : open;
  if (pool.length === 0) return null;
  const cheapest = Math.min(...pool.map((l) => l.pricePerCoreHour));
  const ties = pool.filter((l) => l.pricePerCoreHour === cheapest).sort((a, b) => a.name.localeCompare(b.name));
  return ties[((c.turn % ties.length) + ties.length) % ties.length]!.name;
}

/** The location's cores taken by a VM just asked for, so the next pick of the same loop sees it. */
export function takeCores(locations: readonly Location[], name: string, cores: number): Location[] {
  return locations.map((l) => (l.name === name ? { ...l, coresLeft: l.coresLeft - cores } : l));
}
