/**
 * The one interface every cloud driver implements: what the service needs to own a VM's life.
 * The local driver runs each "VM" as an agent process; GCP and Azure drivers create real VMs.
 */
export type InstanceLaunch = {
  name: string;
  pool: string;
  cores: number;
  activationToken: string;
};

export interface CloudDriver {
  /** Starts the machine; returns a handle the driver can find it by again. Idempotent per name. */
  create(launch: InstanceLaunch): Promise<{ handle: string }>;
  /** Stops and removes the machine; succeeds if it is already gone. */
  delete(name: string, handle: string | null): Promise<void>;
  /** Whether the machine still exists (running or starting). */
  exists(name: string, handle: string | null): Promise<boolean>;
}
