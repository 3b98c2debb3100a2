/**
 * The clouds' list prices into the resources catalogue, and the location choice's per-core
 * prices from it. Run by the prices workflow every HB_PRICE_REFRESH_MS. Idempotent: a product
 * gets a new version only when its latest one has another rate (checked again in the insert),
 * so a retried or doubled refresh adds nothing; attempts already running keep the versions
 * they started with, as for an admin's price change.
 */
import type { Db } from '../db/client';
import type { ActivityDeps } from './deps';
import { clock } from './deps';
import type { CloudDriver } from './cloud/driver';
import { addResourceVersionIfChanged, loadRateCard } from '../db/queries/resources';
import { getPool } from '../db/queries/pools';
import { catalogueChanges, coreHourPrices } from '../domain/cloud-prices';

/** Cores of the standard worker when no standard pool is stored (Hail's default). */
const DEFAULT_WORKER_CORES = 16;

/**
 * Hands the catalogue's current prices to this process's location choice. The autoscaler does
 * it each loop, so every driver replica (and one just restarted) prices locations as the
 * catalogue does, whichever replica ran the refresh.
 */
export async function cataloguePricesToLocations(db: Db, driver: CloudDriver): Promise<void> {
  if (!driver.locationBook || !driver.priceLocations) return;
  const card = await loadRateCard(db);
  driver.locationBook.setPrices(coreHourPrices(card, driver.priceLocations().map((l) => l.location)));
}

export function createPriceActivities(deps: ActivityDeps, driver: CloudDriver) {
  const { db, log } = deps;
  return {
    async refreshPrices(): Promise<{ regions: number; added: string[] }> {
      if (!driver.readPrices || !driver.priceLocations) return { regions: 0, added: [] };
      const pool = await getPool(db, 'standard');
      const prices = await driver.readPrices(pool?.config.worker_cores ?? DEFAULT_WORKER_CORES);
      const changes = catalogueChanges(await loadRateCard(db), driver.priceLocations(), prices);
      const added: string[] = [];
      for (const c of changes) {
        const row = await addResourceVersionIfChanged(db, c.product, c.rate, clock(deps));
        if (row) added.push(row.name);
      }
      if (added.length > 0) log.info('cloud prices changed the catalogue', { added: added.length, first: added.slice(0, 5) });
      await cataloguePricesToLocations(db, driver);
      return { regions: prices.length, added };
    },
  };
}
