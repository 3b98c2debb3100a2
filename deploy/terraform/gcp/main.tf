# Hail Batch on Google Cloud: a VPC with a subnet for GKE (api, driver, Temporal) and one for
# worker VMs, firewall rules (workers reach the API; only the driver's pods reach workers),
# one service account per role with the least it needs, the log bucket, an Artifact Registry
# repository, Cloud SQL for PostgreSQL (private IP) and Temporal by Helm or Temporal Cloud.

terraform {
  required_version = ">= 1.5"
  required_providers {
    google     = { source = "hashicorp/google", version = "~> 6.0" }
    helm       = { source = "hashicorp/helm", version = "~> 2.13" }
    kubernetes = { source = "hashicorp/kubernetes", version = "~> 2.30" }
    random     = { source = "hashicorp/random", version = "~> 3.6" }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

locals {
  services = ["compute.googleapis.com", "container.googleapis.com", "sqladmin.googleapis.com", "servicenetworking.googleapis.com", "artifactregistry.googleapis.com", "iam.googleapis.com", "cloudbilling.googleapis.com"]
  # The worker VMs' network tag, the name the firewall rules use.
  worker_tag = "${var.deployment}-worker"
  # Hail/Spark cluster node VMs' network tag (activities/cloud/gcp/nodes.ts).
  cluster_node_tag = "${var.deployment}-cluster-node"
}

resource "google_project_service" "apis" {
  for_each           = toset(local.services)
  service            = each.value
  disable_on_destroy = false
}

# ---- network -------------------------------------------------------------------------------

resource "google_compute_network" "vpc" {
  name                    = var.deployment
  auto_create_subnetworks = false
  depends_on              = [google_project_service.apis]
}

resource "google_compute_subnetwork" "services" {
  name                     = "${var.deployment}-services"
  network                  = google_compute_network.vpc.id
  ip_cidr_range            = "10.10.0.0/20"
  private_ip_google_access = true
  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = "10.20.0.0/16"
  }
  # The driver's pods get addresses of their own, so a firewall rule can name exactly them.
  secondary_ip_range {
    range_name    = "driver-pods"
    ip_cidr_range = var.driver_pod_cidr
  }
  secondary_ip_range {
    range_name    = "k8s-services"
    ip_cidr_range = "10.30.0.0/20"
  }
}

resource "google_compute_subnetwork" "workers" {
  name                     = "${var.deployment}-workers"
  network                  = google_compute_network.vpc.id
  ip_cidr_range            = var.worker_cidr
  private_ip_google_access = true
}

# Workers have no public address; they pull images and write logs through Cloud NAT and
# Private Google Access.
resource "google_compute_router" "nat" {
  name    = "${var.deployment}-nat"
  network = google_compute_network.vpc.id
}

resource "google_compute_router_nat" "nat" {
  name                               = "${var.deployment}-nat"
  router                             = google_compute_router.nat.name
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"
}

# ---- firewall --------------------------------------------------------------------------------

# Only the driver's pods reach the agents' port; VPC ingress is denied by default otherwise.
resource "google_compute_firewall" "driver_to_workers" {
  name          = "${var.deployment}-driver-to-workers"
  network       = google_compute_network.vpc.id
  direction     = "INGRESS"
  source_ranges = [var.driver_pod_cidr]
  target_tags   = [local.worker_tag]
  allow {
    protocol = "tcp"
    ports    = [tostring(var.agent_port)]
  }
}

# Workers reach the API's internal load balancer (its backends are the GKE nodes and pods).
resource "google_compute_firewall" "workers_to_api" {
  name               = "${var.deployment}-workers-to-api"
  network            = google_compute_network.vpc.id
  direction          = "INGRESS"
  source_ranges      = [var.worker_cidr]
  destination_ranges = ["10.10.0.0/20", "10.20.0.0/16"]
  allow {
    protocol = "tcp"
    ports    = ["5050"]
  }
}

# An explicit deny below the allow, so a later broad rule does not open the workers by accident.
resource "google_compute_firewall" "deny_to_workers" {
  name          = "${var.deployment}-deny-to-workers"
  network       = google_compute_network.vpc.id
  direction     = "INGRESS"
  priority      = 65000
  source_ranges = ["0.0.0.0/0"]
  target_tags   = [local.worker_tag]
  deny {
    protocol = "all"
  }
}

# Cluster nodes: the API (Jupyter proxy) and the driver (node commands) reach a node's
# Jupyter and exec door; nodes reach each other on every port (Spark, NFS); nothing else.
resource "google_compute_firewall" "service_to_cluster_nodes" {
  name          = "${var.deployment}-service-to-cluster-nodes"
  network       = google_compute_network.vpc.id
  direction     = "INGRESS"
  source_ranges = [var.driver_pod_cidr, "10.20.0.0/16"]
  target_tags   = [local.cluster_node_tag]
  allow {
    protocol = "tcp"
    ports    = ["8888", "8099"]
  }
}

resource "google_compute_firewall" "cluster_nodes_to_each_other" {
  name        = "${var.deployment}-cluster-nodes-to-each-other"
  network     = google_compute_network.vpc.id
  direction   = "INGRESS"
  source_tags = [local.cluster_node_tag]
  target_tags = [local.cluster_node_tag]
  allow {
    protocol = "all"
  }
}

resource "google_compute_firewall" "deny_to_cluster_nodes" {
  name          = "${var.deployment}-deny-to-cluster-nodes"
  network       = google_compute_network.vpc.id
  direction     = "INGRESS"
  priority      = 65000
  source_ranges = ["0.0.0.0/0"]
  target_tags   = [local.cluster_node_tag]
  deny {
    protocol = "all"
  }
}

# ---- service accounts --------------------------------------------------------------------------

resource "google_service_account" "api" {
  account_id   = "${var.deployment}-api"
  display_name = "Hail Batch API"
}

resource "google_service_account" "driver" {
  account_id   = "${var.deployment}-driver"
  display_name = "Hail Batch driver (creates and deletes worker VMs)"
}

resource "google_service_account" "worker" {
  account_id   = "${var.deployment}-worker"
  display_name = "Hail Batch worker VMs (logs and status documents only)"
}

# The driver manages instances only; a custom role instead of compute.instanceAdmin keeps it
# away from disks, networks and images it does not create.
resource "google_project_iam_custom_role" "driver" {
  role_id = replace("${var.deployment}_driver", "-", "_")
  title   = "Hail Batch driver"
  permissions = [
    "compute.instances.create", "compute.instances.delete", "compute.instances.get", "compute.instances.list",
    "compute.instances.setMetadata", "compute.instances.setLabels", "compute.instances.setServiceAccount",
    "compute.disks.create", "compute.subnetworks.use", "compute.zoneOperations.get", "compute.zones.list",
    "compute.regions.get", "compute.machineTypes.list", "compute.images.useReadOnly",
  ]
}

resource "google_project_iam_member" "driver_compute" {
  project = var.project
  role    = google_project_iam_custom_role.driver.id
  member  = "serviceAccount:${google_service_account.driver.email}"
}

# The driver may attach the worker account to VMs, and no other account.
resource "google_service_account_iam_member" "driver_uses_worker" {
  service_account_id = google_service_account.worker.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.driver.email}"
}

resource "google_project_iam_member" "sql_clients" {
  for_each = { api = google_service_account.api.email, driver = google_service_account.driver.email }
  project  = var.project
  role     = "roles/cloudsql.client"
  member   = "serviceAccount:${each.value}"
}

resource "google_project_iam_member" "worker_logging" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.worker.email}"
}

# Workload Identity: the Kubernetes service accounts of the api and driver act as these.
resource "google_service_account_iam_member" "workload_identity" {
  for_each           = { api = google_service_account.api.name, driver = google_service_account.driver.name }
  service_account_id = each.value
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project}.svc.id.goog[${var.namespace}/batch-${each.key}]"
  depends_on         = [google_container_cluster.cluster]
}

# ---- storage and images --------------------------------------------------------------------------

resource "google_storage_bucket" "logs" {
  name                        = "${var.project}-${var.deployment}-logs"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
}

# Workers write logs and status documents; the API reads them. Nobody else is granted anything.
resource "google_storage_bucket_iam_member" "worker_writes" {
  bucket = google_storage_bucket.logs.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_storage_bucket_iam_member" "api_reads" {
  bucket = google_storage_bucket.logs.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.api.email}"
}

resource "google_artifact_registry_repository" "images" {
  location      = var.region
  repository_id = var.deployment
  format        = "DOCKER"
  depends_on    = [google_project_service.apis]
}

resource "google_artifact_registry_repository_iam_member" "pullers" {
  for_each   = { worker = google_service_account.worker.email, api = google_service_account.api.email, driver = google_service_account.driver.email }
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${each.value}"
}

# ---- GKE for api, driver and Temporal -----------------------------------------------------------

resource "google_container_cluster" "cluster" {
  name                     = var.deployment
  location                 = var.region
  network                  = google_compute_network.vpc.id
  subnetwork               = google_compute_subnetwork.services.id
  remove_default_node_pool = true
  initial_node_count       = 1
  deletion_protection      = true
  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "k8s-services"
  }
  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = "172.16.0.0/28"
  }
  workload_identity_config {
    workload_pool = "${var.project}.svc.id.goog"
  }
  depends_on = [google_project_service.apis]
}

resource "google_container_node_pool" "services" {
  name       = "services"
  cluster    = google_container_cluster.cluster.id
  node_count = 1
  autoscaling {
    min_node_count = 1
    max_node_count = 5
  }
  node_config {
    machine_type = "e2-standard-4"
    oauth_scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}

# The driver runs on nodes of its own whose pods take addresses from driver-pods, the only
# source the workers' firewall admits (deploy/kubernetes/driver.yaml selects this pool).
resource "google_container_node_pool" "driver" {
  name       = "driver"
  cluster    = google_container_cluster.cluster.id
  node_count = 1
  network_config {
    pod_range = "driver-pods"
  }
  node_config {
    machine_type = "e2-standard-4"
    labels       = { "hail-batch/role" = "driver" }
    taint {
      key    = "hail-batch/role"
      value  = "driver"
      effect = "NO_SCHEDULE"
    }
    oauth_scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}

# ---- Cloud SQL -----------------------------------------------------------------------------------

resource "google_compute_global_address" "sql" {
  name          = "${var.deployment}-sql"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 16
  network       = google_compute_network.vpc.id
}

resource "google_service_networking_connection" "sql" {
  network                 = google_compute_network.vpc.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.sql.name]
}

resource "google_sql_database_instance" "postgres" {
  name                = var.deployment
  database_version    = "POSTGRES_15"
  region              = var.region
  deletion_protection = true
  depends_on          = [google_service_networking_connection.sql]
  settings {
    tier              = var.sql_tier
    availability_type = "REGIONAL"
    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.vpc.id
    }
    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
    }
  }
}

resource "google_sql_database" "dbs" {
  for_each = toset(["batch", "temporal", "temporal_visibility"])
  name     = each.value
  instance = google_sql_database_instance.postgres.name
}

resource "random_password" "db" {
  for_each = toset(["batch", "temporal"])
  length   = 32
  special  = false
}

resource "google_sql_user" "users" {
  for_each = random_password.db
  name     = each.key
  instance = google_sql_database_instance.postgres.name
  password = each.value.result
}

# ---- Kubernetes: namespace, secrets, Temporal ---------------------------------------------------

data "google_client_config" "current" {}

provider "kubernetes" {
  host                   = "https://${google_container_cluster.cluster.endpoint}"
  token                  = data.google_client_config.current.access_token
  cluster_ca_certificate = base64decode(google_container_cluster.cluster.master_auth[0].cluster_ca_certificate)
}

provider "helm" {
  kubernetes {
    host                   = "https://${google_container_cluster.cluster.endpoint}"
    token                  = data.google_client_config.current.access_token
    cluster_ca_certificate = base64decode(google_container_cluster.cluster.master_auth[0].cluster_ca_certificate)
  }
}

resource "kubernetes_namespace" "batch" {
  metadata {
    name = var.namespace
  }
}

resource "kubernetes_secret" "batch_db" {
  metadata {
    name      = "batch-secrets"
    namespace = kubernetes_namespace.batch.metadata[0].name
  }
  data = {
    DATABASE_URL = "postgres://batch:${random_password.db["batch"].result}@${google_sql_database_instance.postgres.private_ip_address}:5432/batch"
  }
}

resource "kubernetes_secret" "temporal_db" {
  count = var.temporal_cloud_address == "" ? 1 : 0
  metadata {
    name      = "temporal-postgres"
    namespace = kubernetes_namespace.batch.metadata[0].name
  }
  data = {
    password = random_password.db["temporal"].result
  }
}

# Temporal on the same Cloud SQL instance, unless Temporal Cloud is used (temporal_cloud_address).
resource "helm_release" "temporal" {
  count      = var.temporal_cloud_address == "" ? 1 : 0
  name       = "temporal"
  namespace  = kubernetes_namespace.batch.metadata[0].name
  repository = "https://go.temporal.io/helm-charts"
  chart      = "temporal"
  version    = var.temporal_chart_version
  values     = [file("${path.module}/../../temporal/values.postgresql.yaml")]
  set {
    name  = "server.config.persistence.default.sql.host"
    value = google_sql_database_instance.postgres.private_ip_address
  }
  set {
    name  = "server.config.persistence.visibility.sql.host"
    value = google_sql_database_instance.postgres.private_ip_address
  }
  set {
    name  = "cassandra.enabled"
    value = "false"
  }
  set {
    name  = "mysql.enabled"
    value = "false"
  }
  set {
    name  = "postgresql.enabled"
    value = "false"
  }
  set {
    name  = "elasticsearch.enabled"
    value = "false"
  }
  depends_on = [kubernetes_secret.temporal_db, google_sql_database.dbs, google_container_node_pool.services]
}
