/**
 * The one interface every cloud driver implements: what the service needs to own a VM's life.
 * The local driver runs each "VM" as an agent process; GCP and Azure drivers create real VMs.
 * Machines are known by name only: a driver must find every machine of its deployment again
 * from the cloud itself (list), so nothing is leaked when the driver dies between asking for a
 * machine and recording anything about it.
 */

import type { LocationBook } from './location-book';
import type { RegionPrices } from '../../domain/cloud-prices';

/** What the service asks for: the shape of the VM and what it runs for. */
export type InstanceConfig = {
  name: string;
  pool: string;
  cores: number;
  workerType: string;
  preemptible: boolean;
  bootDiskSizeGb: number;
  /** Where to create it (see chooseLocation). */
  location: string;
  /** Set for job-private VMs: the machine type the job asked for. */
  machineType: string | null;
};

/** What the VM's startup script needs to join: the one-time token and where to report. */
export type StartupData = { activationToken: string; apiUrl: string };

/** The cloud's view of a machine: starting or running, stopping, or not there at all. */
export type MachineState = 'provisioning' | 'running' | 'stopping' | 'gone';

export type Machine = { name: string; state: Exclude<MachineState, 'gone'> };

export interface CloudDriver {
  /** Starts the machine. Idempotent per name: a second call for a live machine does nothing. */
  create(config: InstanceConfig, startup: StartupData): Promise<{ handle: string }>;
  /** Stops and removes the machine; succeeds if it is already gone. */
  delete(name: string): Promise<void>;
  /** The machine's state in the cloud; 'gone' when no such machine exists. */
  getState(name: string): Promise<MachineState>;
  /** Every machine of this deployment, whether or not the database knows it. */
  list(): Promise<Machine[]>;
  /** Where to put a new VM of `cores` cores, given the regions a job allows (null: any); null if none fits. */
  chooseLocation(regions: readonly string[] | null, cores?: number): string | null;
  /** Re-reads locations, quotas (and the cloud's view of capacity) when due; clouds only. */
  refreshLocations?(): Promise<void>;
  /** The locations with quota and price, as last read (clouds only; the local cloud has one). */
  locationBook?: LocationBook;
  /**
   * The cloud's list prices per region (clouds only): GCP's Cloud Billing Catalog, Azure's
   * retail prices for the standard worker of `workerCores` cores.
   */
  readPrices?(workerCores: number): Promise<RegionPrices[]>;
  /** The locations VMs may go to, each with the region its prices are listed under. */
  priceLocations?(): { location: string; region: string }[];
  /** Makes the machine die abruptly, as a spot VM reclaimed by the cloud would. */
  simulatePreemption(name: string): Promise<void>;
}
