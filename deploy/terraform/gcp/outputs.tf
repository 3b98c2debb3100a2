# What the service's config needs (deploy/README.md, "Configure the service").
output "HB_OBJECT_STORE" {
  value = "gcs"
}

output "HB_GCS_BUCKET" {
  value = google_storage_bucket.logs.name
}

output "HB_GCS_PROJECT" {
  value = var.project
}

output "worker_service_account" {
  value = google_service_account.worker.email
}

output "worker_network_tag" {
  value = local.worker_tag
}

output "worker_subnetwork" {
  value = google_compute_subnetwork.workers.self_link
}

output "registry" {
  value = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.images.repository_id}"
}

output "api_service_account" {
  value = google_service_account.api.email
}

output "driver_service_account" {
  value = google_service_account.driver.email
}

output "cluster" {
  value = google_container_cluster.cluster.name
}
