/**
 * The one configuration module. Every process reads its settings through loadConfig();
 * nothing else in the project touches process.env. Values are validated with zod at start-up
 * so a bad setting fails loudly before anything is started.
 */
import path from 'node:path';
import { z } from 'zod';
import { isImageReference } from '../domain/image-ref';
import type { StorageEndpoints } from '../storage/user-buckets';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

const EnvSchema = z.object({
  HB_DATA_DIR: z.string().default('.data'),
  DATABASE_URL: z.string().url().optional(),
  HB_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),

  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  HB_TEMPORAL_UI_PORT: port.default(8233),
  HB_TEMPORAL_CLI: z.string().optional(),
  HB_TASK_QUEUE: z.string().default('hail-batch'),
  /**
   * The driver's Temporal worker (temporal.config.ts says why each default; `npm run bench --
   * --scenario worker-tuning` measures them): workflow tasks run at once and their pollers,
   * activities and local activities run at once, workflows kept in the cache.
   */
  HB_WORKER_WORKFLOW_TASK_SLOTS: positiveInt.min(2).max(1000).default(100),
  HB_WORKER_WORKFLOW_TASK_POLLERS: positiveInt.min(2).max(100).default(10),
  HB_WORKER_ACTIVITY_SLOTS: positiveInt.max(2000).default(200),
  HB_WORKER_LOCAL_ACTIVITY_SLOTS: positiveInt.max(2000).default(100),
  HB_WORKER_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(100_000).default(2000),

  HB_API_HOST: z.string().default('127.0.0.1'),
  HB_API_PORT: port.default(5050),
  /** URL agents and users reach the API at; derived from host and port when not set. */
  HB_API_URL: z.string().url().optional(),
  HB_BODY_LIMIT_BYTES: positiveInt.default(8 * 1024 * 1024),
  /** The driver's metrics listener (GET /metrics); loopback unless Prometheus scrapes from elsewhere. */
  HB_DRIVER_METRICS_HOST: z.string().default('127.0.0.1'),
  HB_DRIVER_METRICS_PORT: port.default(5051),
  /** Bearer token Prometheus presents for /metrics (API and driver); admins' tokens work on the API too. */
  HB_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  HB_REGION: z.string().default('local'),

  HB_BATCH_WINDOW: positiveInt.max(1500).default(500),
  /**
   * Partitions per batch: each claims and starts up to HB_BATCH_WINDOW / HB_BATCH_PARTITIONS job
   * workflows, in a history of its own (on a Temporal cluster, on a shard of its own).
   */
  HB_BATCH_PARTITIONS: positiveInt.max(64).default(4),
  HB_SCHEDULER_INTERVAL_MS: positiveInt.default(1000),
  /** How often the driver cancels the running batches of billing projects over their limit. */
  HB_BILLING_LIMITS_INTERVAL_MS: positiveInt.default(10_000),
  /** Overrides every pool's autoscaler_loop_period_secs (tests run the loop every second or two). */
  HB_AUTOSCALER_LOOP_MS: positiveInt.optional(),
  /**
   * How long a stored attempt end may wait for its job workflow before the autoscaler's loop
   * pokes the job again (its first poke was lost). Pokes normally follow within milliseconds; a
   * repeat costs the job workflow a task, so only reports this old are sent again.
   */
  HB_REPORT_REPOKE_MS: positiveInt.default(60_000),
  /** The driver calls an active instance it has not heard from for this long (Hail: 60 s). */
  HB_INSTANCE_UNHEARD_MS: positiveInt.default(60_000),
  /** How often the driver looks for batch callbacks due to be sent (it also looks at start). */
  HB_CALLBACK_INTERVAL_MS: positiveInt.default(1000),
  /** A callback POST that has not answered in this long failed (Hail: 5 s). */
  HB_CALLBACK_TIMEOUT_MS: positiveInt.max(60_000).default(5000),
  /** Tries per callback, the first included, before it is given up (1 s doubling to 5 min between them). */
  HB_CALLBACK_MAX_ATTEMPTS: positiveInt.max(1000).default(20),

  /**
   * Initial pool sizes, seeded into the pools table on first start: `pool:min[-max]`, e.g.
   * `standard:2,highmem:0-4`. Without a max the pool stays at min; afterwards the pools
   * table (PATCH /api/v1alpha/pools/{name}) is what counts.
   */
  HB_LOCAL_POOLS: z
    .string()
    .regex(/^(\w[\w-]*:\d+(-\d+)?)(,\w[\w-]*:\d+(-\d+)?)*$/, 'expected pool:min[-max][,pool:min[-max]...]')
    .default('standard:2,highmem:1,highcpu:1'),
  HB_AGENT_CORES: positiveInt.default(4),
  HB_AGENT_BASE_PORT: port.default(5100),
  HB_EXECUTOR: z.enum(['docker', 'process']).default('docker'),

  HB_AGENT_NAME: z.string().optional(),
  HB_AGENT_PORT: port.optional(),
  HB_AGENT_ACTIVATION_TOKEN: z.string().optional(),
  HB_AGENT_HOST: z.string().default('127.0.0.1'),
  HB_AGENT_POOL: z.string().default('standard'),
  HB_COPIER_IMAGE: z.string().default('hail-batch-busybox:latest'),
  HB_DOCKER_SOCKET: z.string().default('/var/run/docker.sock'),
  HB_AGENT_HEARTBEAT_MS: positiveInt.default(5000),

  /**
   * More storage roots besides every billing project's own `<data dir>/storage/<project>`:
   * comma-separated `project=/abs/path` or `*=/abs/path` (`*`: every billing project).
   */
  HB_STORAGE_ROOTS: z
    .string()
    .default('')
    .refine((v) => parseStorageRoots(v) !== null, 'expected project=/abs/path or *=/abs/path, comma-separated'),
  /** The host uid:gid the copier runs as and output files belong to, when the agent is root. */
  HB_STORAGE_UID: z.coerce.number().int().min(1).max(2 ** 31 - 1).default(10_000),
  HB_STORAGE_GID: z.coerce.number().int().min(1).max(2 ** 31 - 1).default(10_000),
  /** One directory per user holding that user's own cloud identities (storage/user-credentials.ts). */
  HB_USER_CREDENTIALS_DIR: z.string().refine((v) => path.posix.isAbsolute(v) && !v.includes('\0'), 'an absolute path').optional(),

  /** Where logs, status documents and resource usage files go: a directory, a GCS bucket or an Azure container. */
  HB_OBJECT_STORE: z.enum(['local', 'gcs', 'azure']).default('local'),
  /** Prepended to every object key in a bucket, e.g. `prod/` (one bucket, several deployments). */
  HB_OBJECT_PREFIX: z
    .string()
    .regex(/^([A-Za-z0-9_.-]+\/)*$/, 'expected slash-terminated path segments, e.g. prod/')
    .refine((v) => !v.split('/').some((p) => p === '.' || p === '..'), 'no . or .. segments')
    .default(''),
  HB_GCS_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, 'expected a GCS bucket name').optional(),
  /** The GCS JSON API endpoint; unset for storage.googleapis.com (an emulator in tests). */
  HB_GCS_API_ENDPOINT: z.string().url().optional(),
  HB_GCS_PROJECT: z.string().optional(),
  /** Test only: the Blob endpoint of an emulator, `{account}` standing for the URL's account (http://127.0.0.1:10000/{account}). */
  HB_AZURE_BLOB_ENDPOINT: z
    .string()
    .refine((v) => v.includes('{account}') && URL.canParse(v.replace('{account}', 'a')), 'a URL with {account} in it')
    .optional(),
  /**
   * Where Microsoft Entra ID signs in a user's service principal for their Azure Blob files:
   * unset for the public cloud (login.microsoftonline.com); a national cloud's host
   * (https://login.microsoftonline.us, https://login.chinacloudapi.cn) or an emulator's.
   */
  HB_AZURE_AUTHORITY_HOST: z.string().url().refine((v) => v.startsWith('https://'), 'an https:// URL').optional(),
  HB_AZURE_STORAGE_CONTAINER: z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'expected an Azure container name').optional(),
  /** https://<account>.blob.core.windows.net, used with the managed identity. */
  HB_AZURE_STORAGE_ACCOUNT_URL: z.string().url().optional(),
  /** Instead of the account URL: a connection string (Azurite, shared key). */
  HB_AZURE_STORAGE_CONNECTION_STRING: z.string().optional(),
  /** Where worker VMs are made: agent processes on this machine, Compute Engine or Azure VMs. */
  HB_CLOUD: z.enum(['local', 'gcp', 'azure']).default('local'),
  /** The worker image cloud VMs run the agent in (deploy/Dockerfile, pushed to the deployment's registry). */
  HB_WORKER_IMAGE: z.string().refine(isImageReference, 'a Docker image reference').default('hail-batch-worker:latest'),
  /** Names this deployment in every VM's labels / tags, so its machines are found again. */
  HB_DEPLOYMENT: z.string().regex(/^[a-z][a-z0-9-]{0,61}$/, 'lower-case letters, digits and dashes, starting with a letter').default('default'),
  HB_GCP_PROJECT: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'a GCP project id').optional(),
  /** Comma-separated zones VMs may go to, e.g. `us-central1-a,us-central1-b`. */
  HB_GCP_ZONES: z.string().regex(/^[a-z]+-[a-z]+\d+-[a-z](,[a-z]+-[a-z]+\d+-[a-z])*$/, 'comma-separated zones such as us-central1-a').optional(),
  HB_GCP_NETWORK: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/).default('default'),
  HB_GCP_SUBNETWORK: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/).optional(),
  /** The worker VMs' service account (e-mail); the project's default compute account when unset. */
  HB_GCP_SERVICE_ACCOUNT: z.string().email().optional(),
  HB_GCP_BOOT_IMAGE: z.string().default('projects/debian-cloud/global/images/family/debian-12'),
  /**
   * Test only: the Compute Engine REST endpoint of an emulator (http://host:port), static
   * token; the Cloud Billing Catalog is read there too.
   */
  HB_GCP_API_ENDPOINT: z.string().url().optional(),
  HB_AZURE_SUBSCRIPTION_ID: z.string().uuid().optional(),
  HB_AZURE_RESOURCE_GROUP: z.string().regex(/^[-\w._()]{1,89}[-\w_()]$/, 'an Azure resource group name').optional(),
  /** Comma-separated Azure locations VMs may go to, e.g. `eastus,westus2`. */
  HB_AZURE_LOCATIONS: z.string().regex(/^[a-z0-9]+(,[a-z0-9]+)*$/, 'comma-separated locations such as eastus').optional(),
  /** The subnet worker NICs join (full resource id). */
  HB_AZURE_SUBNET_ID: z.string().regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/, 'a subnet resource id').optional(),
  HB_AZURE_PUBLIC_IP: z.enum(['true', 'false']).default('false'),
  /** publisher:offer:sku:version of the workers' image. */
  HB_AZURE_IMAGE: z.string().regex(/^[^:]+:[^:]+:[^:]+:[^:]+$/, 'publisher:offer:sku:version').default('Debian:debian-12:12-gen2:latest'),
  HB_AZURE_SSH_PUBLIC_KEY: z.string().optional(),
  /**
   * The workers' user-assigned managed identity (full resource id, terraform's
   * `worker_identity_id`): attached to every worker VM, it is how the agent reaches the
   * object store. Without it a worker VM has no identity and its agent cannot write logs.
   */
  HB_AZURE_WORKER_IDENTITY: z
    .string()
    .regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i, 'a user-assigned identity resource id')
    .optional(),
  /** Test only: the Resource Manager endpoint of an emulator (http://host:port), static token. */
  HB_AZURE_ARM_ENDPOINT: z.string().url().optional(),
  /** Azure's retail prices API (public, https://prices.azure.com); with an ARM emulator, the emulator's. */
  HB_AZURE_PRICES_ENDPOINT: z.string().url().optional(),
  /** How often the clouds' list prices are read into the resources catalogue. */
  HB_PRICE_REFRESH_MS: positiveInt.default(3_600_000),
  /** How often the location monitor re-reads zones, quotas and prices from the cloud. */
  HB_LOCATION_REFRESH_MS: positiveInt.default(60_000),
  /** Labels every cluster node, network and volume this deployment owns (reconciled by it). */
  HB_CLUSTER_DEPLOYMENT: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/).default('local'),
  /** The host address cluster nodes publish Jupyter on (the service proxies it). */
  HB_CLUSTER_PUBLISH_HOST: z.string().default('127.0.0.1'),
  /**
   * Where cluster node VMs (HB_CLOUD=gcp|azure) pull node images from, e.g.
   * us-docker.pkg.dev/<project>/hail: the image's local tag is pushed there and pulled as
   * <registry>/<tag>. Unset: the VMs' Docker has the tag (the emulated clouds).
   */
  HB_CLUSTER_IMAGE_REGISTRY: z
    .string()
    .regex(/^[a-z0-9.-]+(:\d{1,5})?(\/[a-z0-9._-]+)*$/, 'expected a registry path such as us-docker.pkg.dev/project/hail')
    .optional(),
  /** The API token `cli/main.ts cluster …` sends; the local service's dev credentials when unset. */
  HB_TOKEN: z.string().optional(),
}).superRefine((e, ctx) => {
  if (e.HB_OBJECT_STORE === 'gcs' && !e.HB_GCS_BUCKET) {
    ctx.addIssue({ code: 'custom', path: ['HB_GCS_BUCKET'], message: 'required when HB_OBJECT_STORE=gcs' });
  }
  if (e.HB_OBJECT_STORE === 'azure') {
    if (!e.HB_AZURE_STORAGE_CONTAINER) ctx.addIssue({ code: 'custom', path: ['HB_AZURE_STORAGE_CONTAINER'], message: 'required when HB_OBJECT_STORE=azure' });
    if (!e.HB_AZURE_STORAGE_ACCOUNT_URL === !e.HB_AZURE_STORAGE_CONNECTION_STRING) {
      ctx.addIssue({ code: 'custom', path: ['HB_AZURE_STORAGE_ACCOUNT_URL'], message: 'set exactly one of HB_AZURE_STORAGE_ACCOUNT_URL and HB_AZURE_STORAGE_CONNECTION_STRING' });
    }
  }
  const need = (key: keyof typeof e, when: string) => {
    if (e[key] === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `required when HB_CLOUD=${when}` });
  };
  if (e.HB_CLOUD === 'gcp') {
    need('HB_GCP_PROJECT', 'gcp');
    need('HB_GCP_ZONES', 'gcp');
  }
  if (e.HB_CLOUD === 'azure') {
    need('HB_AZURE_SUBSCRIPTION_ID', 'azure');
    need('HB_AZURE_RESOURCE_GROUP', 'azure');
    need('HB_AZURE_LOCATIONS', 'azure');
    need('HB_AZURE_SUBNET_ID', 'azure');
  }
});

/** One configured storage root: the billing project it serves (`*` for all) and its path. */
export type StorageRoot = { project: string; path: string };

// The billing project grammar (domain/accounts.ts): a name that is one safe path segment.
const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

function parseStorageRoots(value: string): StorageRoot[] | null {
  const roots: StorageRoot[] = [];
  for (const entry of value.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const project = entry.slice(0, eq);
    const dir = entry.slice(eq + 1);
    if (eq < 0 || (project !== '*' && !PROJECT_NAME.test(project)) || !path.posix.isAbsolute(dir) || dir.includes('\0')) return null;
    const resolved = path.posix.resolve(dir);
    // A root of / would hand every job the whole host.
    if (resolved === '/') return null;
    roots.push({ project, path: resolved });
  }
  return roots;
}

export type StorageConfig = {
  /** Parent of every billing project's default root. */
  defaultBase: string;
  /** The configured extra roots (HB_STORAGE_ROOTS). */
  roots: StorageRoot[];
  /** Who the copier runs as and who owns copied-out files, when the agent runs as root. */
  owner: { uid: number; gid: number };
  /** The roots a job of `project` may read and write (see rootsFor). */
  rootsFor(project: string): string[];
  /** Which clouds' object URLs jobs may name: the cloud whose storage the deployment uses. */
  clouds: { gcp: boolean; azure: boolean };
  /** Where users' own cloud identities are kept (the driver reads them); null for none. */
  userCredentialsDir: string | null;
  /** The clouds' storage endpoints the agent copies jobs' cloud files through. */
  endpoints: StorageEndpoints;
};

/**
 * The storage roots of a billing project: its default root, then the configured ones for it
 * or for every project. A name that is not a billing project name has no roots at all, so a
 * hostile name can never turn into a path such as `<data dir>/storage/..`.
 */
export function rootsFor(storage: Pick<StorageConfig, 'defaultBase' | 'roots'>, project: string): string[] {
  if (!PROJECT_NAME.test(project)) return [];
  const configured = storage.roots.filter((r) => r.project === '*' || r.project === project).map((r) => r.path);
  return [path.join(storage.defaultBase, project), ...configured];
}

export type Executor = 'docker' | 'process';

export type Config = ReturnType<typeof buildConfig>;

function buildConfig(e: z.infer<typeof EnvSchema>) {
  const dataDir = path.resolve(e.HB_DATA_DIR);
  const apiUrl = e.HB_API_URL ?? `http://${e.HB_API_HOST}:${e.HB_API_PORT}`;
  return {
    dataDir,
    logLevel: e.HB_LOG_LEVEL,
    region: e.HB_REGION,
    objectStoreDir: path.join(dataDir, 'objects'),
    objectStore: objectStoreConfig(dataDir, e),
    database: e.DATABASE_URL
      ? ({ kind: 'postgres', url: e.DATABASE_URL } as const)
      : ({ kind: 'pglite', dir: path.join(dataDir, 'pglite') } as const),
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      uiPort: e.HB_TEMPORAL_UI_PORT,
      cliPath: e.HB_TEMPORAL_CLI,
      taskQueue: e.HB_TASK_QUEUE,
      dbFile: path.join(dataDir, 'temporal.sqlite'),
      worker: {
        workflowTaskSlots: e.HB_WORKER_WORKFLOW_TASK_SLOTS,
        // The SDK refuses more pollers than slots.
        workflowTaskPollers: Math.min(e.HB_WORKER_WORKFLOW_TASK_POLLERS, e.HB_WORKER_WORKFLOW_TASK_SLOTS),
        activitySlots: e.HB_WORKER_ACTIVITY_SLOTS,
        localActivitySlots: e.HB_WORKER_LOCAL_ACTIVITY_SLOTS,
        cachedWorkflows: e.HB_WORKER_CACHED_WORKFLOWS,
      },
    },
    api: {
      host: e.HB_API_HOST,
      port: e.HB_API_PORT,
      url: apiUrl,
      bodyLimitBytes: e.HB_BODY_LIMIT_BYTES,
    },
    metrics: {
      driverHost: e.HB_DRIVER_METRICS_HOST,
      driverPort: e.HB_DRIVER_METRICS_PORT,
      token: e.HB_METRICS_TOKEN,
    },
    driver: {
      batchWindow: e.HB_BATCH_WINDOW,
      batchPartitions: e.HB_BATCH_PARTITIONS,
      schedulerIntervalMs: e.HB_SCHEDULER_INTERVAL_MS,
      billingLimitsIntervalMs: e.HB_BILLING_LIMITS_INTERVAL_MS,
      autoscalerLoopMs: e.HB_AUTOSCALER_LOOP_MS,
      reportRepokeMs: e.HB_REPORT_REPOKE_MS,
      instanceUnheardMs: e.HB_INSTANCE_UNHEARD_MS,
      callbacks: {
        intervalMs: e.HB_CALLBACK_INTERVAL_MS,
        timeoutMs: e.HB_CALLBACK_TIMEOUT_MS,
        maxAttempts: e.HB_CALLBACK_MAX_ATTEMPTS,
      },
    },
    localPool: {
      pools: e.HB_LOCAL_POOLS.split(',').map((entry) => {
        const [pool, sizes] = entry.split(':');
        const [min, max] = sizes!.split('-').map(Number);
        return { pool: pool!, count: min!, max: Math.max(min!, max ?? min!) };
      }),
      coresPerAgent: e.HB_AGENT_CORES,
      basePort: e.HB_AGENT_BASE_PORT,
      executor: e.HB_EXECUTOR as Executor,
    },
    agent: {
      name: e.HB_AGENT_NAME,
      host: e.HB_AGENT_HOST,
      port: e.HB_AGENT_PORT,
      cores: e.HB_AGENT_CORES,
      pool: e.HB_AGENT_POOL,
      activationToken: e.HB_AGENT_ACTIVATION_TOKEN,
      apiUrl,
      executor: e.HB_EXECUTOR as Executor,
      copierImage: e.HB_COPIER_IMAGE,
      dockerSocket: e.HB_DOCKER_SOCKET,
      heartbeatMs: e.HB_AGENT_HEARTBEAT_MS,
      scratchDir: path.join(dataDir, 'agents', e.HB_AGENT_NAME ?? 'agent'),
    },
    storage: storageConfig(dataDir, e),
    clusters: {
      deployment: e.HB_CLUSTER_DEPLOYMENT,
      publishHost: e.HB_CLUSTER_PUBLISH_HOST,
      imageRegistry: e.HB_CLUSTER_IMAGE_REGISTRY ?? null,
      dockerSocket: e.HB_DOCKER_SOCKET,
      cliToken: e.HB_TOKEN,
      /** HB_API_URL as given: the CLI prefers it over the local dev credentials. */
      cliApiUrl: e.HB_API_URL,
    },
    cloud: cloudConfig(e),
  };
}

export type CloudConfig = ReturnType<typeof cloudConfig>;

function cloudConfig(e: z.infer<typeof EnvSchema>) {
  const list = (v: string | undefined) => (v ? v.split(',') : []);
  return {
    kind: e.HB_CLOUD,
    deployment: e.HB_DEPLOYMENT,
    workerImage: e.HB_WORKER_IMAGE,
    agentEnv: vmAgentEnv(e),
    locationRefreshMs: e.HB_LOCATION_REFRESH_MS,
    priceRefreshMs: e.HB_PRICE_REFRESH_MS,
    gcp: {
      project: e.HB_GCP_PROJECT ?? '',
      zones: list(e.HB_GCP_ZONES),
      network: e.HB_GCP_NETWORK,
      subnetwork: e.HB_GCP_SUBNETWORK ?? null,
      serviceAccount: e.HB_GCP_SERVICE_ACCOUNT ?? null,
      bootImage: e.HB_GCP_BOOT_IMAGE,
      apiEndpoint: e.HB_GCP_API_ENDPOINT ?? null,
    },
    azure: {
      subscriptionId: e.HB_AZURE_SUBSCRIPTION_ID ?? '',
      resourceGroup: e.HB_AZURE_RESOURCE_GROUP ?? '',
      locations: list(e.HB_AZURE_LOCATIONS),
      subnetId: e.HB_AZURE_SUBNET_ID ?? '',
      publicIp: e.HB_AZURE_PUBLIC_IP === 'true',
      image: e.HB_AZURE_IMAGE,
      sshPublicKey: e.HB_AZURE_SSH_PUBLIC_KEY ?? null,
      workerIdentity: e.HB_AZURE_WORKER_IDENTITY ?? null,
      armEndpoint: e.HB_AZURE_ARM_ENDPOINT ?? null,
      pricesEndpoint: e.HB_AZURE_PRICES_ENDPOINT ?? e.HB_AZURE_ARM_ENDPOINT ?? 'https://prices.azure.com',
    },
  };
}

/**
 * The Blob endpoint a connection string names (its BlobEndpoint, or the public one of its
 * account): no secret, so a VM's agent, which has its own identity, can be told where to go.
 */
export function blobEndpointOf(connectionString: string | undefined): string | undefined {
  if (!connectionString) return undefined;
  const parts = new Map(
    connectionString
      .split(';')
      .filter((p) => p.includes('='))
      .map((p) => [p.slice(0, p.indexOf('=')).toLowerCase(), p.slice(p.indexOf('=') + 1)] as const),
  );
  const endpoint = parts.get('blobendpoint');
  if (endpoint) return endpoint;
  const account = parts.get('accountname');
  const suffix = parts.get('endpointsuffix') ?? 'core.windows.net';
  return account ? `${parts.get('defaultendpointsprotocol') ?? 'https'}://${account}.blob.${suffix}` : undefined;
}

/**
 * What a cloud VM's agent is told besides its name and token: where logs and status documents
 * go. Only non-secret settings travel in the startup script; on a VM the object store is
 * reached with the VM's own identity, so a connection string is never passed on.
 */
function vmAgentEnv(e: z.infer<typeof EnvSchema>): Record<string, string> {
  const picked: Record<string, string | undefined> = {
    HB_OBJECT_STORE: e.HB_OBJECT_STORE,
    HB_OBJECT_PREFIX: e.HB_OBJECT_PREFIX || undefined,
    HB_GCS_BUCKET: e.HB_GCS_BUCKET,
    HB_GCS_API_ENDPOINT: e.HB_GCS_API_ENDPOINT,
    HB_GCS_PROJECT: e.HB_GCS_PROJECT,
    HB_AZURE_BLOB_ENDPOINT: e.HB_AZURE_BLOB_ENDPOINT,
    HB_AZURE_AUTHORITY_HOST: e.HB_AZURE_AUTHORITY_HOST,
    HB_AZURE_STORAGE_CONTAINER: e.HB_AZURE_STORAGE_CONTAINER,
    HB_AZURE_STORAGE_ACCOUNT_URL: e.HB_AZURE_STORAGE_ACCOUNT_URL ?? blobEndpointOf(e.HB_AZURE_STORAGE_CONNECTION_STRING),
  };
  return Object.fromEntries(Object.entries(picked).filter((kv): kv is [string, string] => kv[1] !== undefined));
}

function storageConfig(dataDir: string, e: z.infer<typeof EnvSchema>): StorageConfig {
  const base = { defaultBase: path.join(dataDir, 'storage'), roots: parseStorageRoots(e.HB_STORAGE_ROOTS) ?? [] };
  return {
    ...base,
    owner: { uid: e.HB_STORAGE_UID, gid: e.HB_STORAGE_GID },
    rootsFor: (project) => rootsFor(base, project),
    clouds: { gcp: e.HB_OBJECT_STORE === 'gcs', azure: e.HB_OBJECT_STORE === 'azure' },
    userCredentialsDir: e.HB_USER_CREDENTIALS_DIR ?? null,
    endpoints: { gcs: e.HB_GCS_API_ENDPOINT ?? null, azureBlob: e.HB_AZURE_BLOB_ENDPOINT ?? null, azureAuthority: e.HB_AZURE_AUTHORITY_HOST ?? null },
  };
}

/** The object store's settings (storage/stores.ts ObjectStoreSettings). */
function objectStoreConfig(dataDir: string, e: z.infer<typeof EnvSchema>) {
  const prefix = e.HB_OBJECT_PREFIX;
  switch (e.HB_OBJECT_STORE) {
    case 'local':
      return { kind: 'local' as const, dir: path.join(dataDir, 'objects') };
    case 'gcs':
      return {
        kind: 'gcs' as const,
        bucket: e.HB_GCS_BUCKET!,
        prefix,
        ...(e.HB_GCS_API_ENDPOINT ? { apiEndpoint: e.HB_GCS_API_ENDPOINT } : {}),
        ...(e.HB_GCS_PROJECT ? { projectId: e.HB_GCS_PROJECT } : {}),
      };
    case 'azure':
      return e.HB_AZURE_STORAGE_CONNECTION_STRING
        ? { kind: 'azure' as const, container: e.HB_AZURE_STORAGE_CONTAINER!, prefix, connectionString: e.HB_AZURE_STORAGE_CONNECTION_STRING }
        : { kind: 'azure' as const, container: e.HB_AZURE_STORAGE_CONTAINER!, prefix, accountUrl: e.HB_AZURE_STORAGE_ACCOUNT_URL! };
  }
}

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  return buildConfig(parsed.data);
}

/** The environment variables that carry a config into a child process (agents, services). */
export function childEnv(overrides: Record<string, string | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) out[k] = v;
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) out[k] = String(v);
  return out;
}
