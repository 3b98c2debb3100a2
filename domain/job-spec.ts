/**
 * The normalized job spec: what the service stores after validating a Hail JobSpec, and what
 * a worker-vm agent receives when a job is dispatched to it. Wire-format parsing lives in
 * spec.ts; everything downstream (db, scheduler, agent) speaks this type only.
 */
export type ProcessSpec = {
  type: 'docker';
  image: string;
  command: string[];
};

export type FileTransfer = { from: string; to: string };

/** A bucket mounted read-only into the main container (Hail `cloudfuse`, alias `gcsfuse`). */
export type CloudfuseMount = { bucket: string; mount_path: string; read_only: boolean };

/** A Kubernetes-style secret mount; only the ci user may ask for one. */
export type SecretMount = { namespace: string; name: string; mount_path: string };

export type NormalizedResources = {
  /** Cores the job is given after rounding to its pool, in thousandths of a core. */
  cores_mcpu: number;
  memory_bytes: number;
  storage_gib: number;
  preemptible: boolean;
  machine_type: string | null;
};

export type JobSpec = {
  job_id: number;
  /** Absolute job ids of the parents within the batch. */
  parent_ids: number[];
  process: ProcessSpec;
  resources: NormalizedResources;
  /** Pool (instance collection) the job runs in: standard, highmem, highcpu or job-private. */
  pool: string;
  env: { name: string; value: string }[];
  attributes: Record<string, string>;
  always_run: boolean;
  n_max_attempts: number;
  always_copy_output: boolean;
  timeout: number | null;
  input_files: FileTransfer[];
  output_files: FileTransfer[];
  regions: string[] | null;
  job_group_id: number;
  port: number | null;
  // The rest are set only when the wire spec gave them, to keep stored specs small.
  cloudfuse?: CloudfuseMount[];
  requester_pays_project?: string;
  user_code?: string;
  mount_tokens?: boolean;
  /** Anything but public, and the three fields after it, are allowed for the ci user only. */
  network?: 'public' | 'private';
  unconfined?: boolean;
  secrets?: SecretMount[];
  service_account?: { namespace: string; name: string };
};

/** The containers of one job attempt, in the order they run. */
export const CONTAINER_NAMES = ['input', 'main', 'output'] as const;
export type ContainerName = (typeof CONTAINER_NAMES)[number];
