/**
 * The driver's view of where VMs can go (Hail's location monitor): the cloud's locations with
 * their quota left and price, re-read at most every `refreshMs`, and the locations that
 * refused capacity lately. The choice itself is domain/locations.ts.
 */
import { avoid, chooseLocation, takeCores, type Avoided, type Location } from '../../domain/locations';

export type LocationBook = {
  /** Re-reads locations and quotas from the cloud if the last read is older than refreshMs. */
  refresh(force?: boolean): Promise<void>;
  choose(regions: readonly string[] | null, cores: number): string | null;
  /** A location refused a VM: leave it out for a while. */
  refused(location: string): void;
  /** Prices per core-hour by location (from the resources catalogue), applied from the next choice. */
  setPrices(prices: ReadonlyMap<string, number>): void;
  locations(): readonly Location[];
};

export function createLocationBook(read: () => Promise<Location[]>, refreshMs: number, now: () => number = Date.now): LocationBook {
  let locations: Location[] = [];
  let readAt = -Infinity;
  let avoided: Avoided = new Map();
  let turn = 0;
  let prices: ReadonlyMap<string, number> = new Map();
  const priced = (ls: Location[]) => ls.map((l) => ({ ...l, pricePerCoreHour: prices.get(l.name) ?? prices.get(l.region) ?? l.pricePerCoreHour }));
  return {
    async refresh(force = false) {
      if (!force && now() - readAt < refreshMs) return;
      locations = priced(await read());
      readAt = now();
    },
    choose(regions, cores) {
      const pick = chooseLocation({ locations, regions, cores, avoided, nowMs: now(), turn: turn++ });
      if (pick) locations = takeCores(locations, pick, cores);
      return pick;
    },
    refused(location) {
      avoided = avoid(avoided, location, now());
    },
    setPrices(p) {
      prices = p;
      locations = priced(locations);
    },
    locations: () => locations,
  };
}
