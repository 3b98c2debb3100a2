# What the service's config needs (deploy/README.md, "Configure the service").
output "HB_OBJECT_STORE" {
  value = "azure"
}

output "HB_AZURE_STORAGE_ACCOUNT_URL" {
  value = azurerm_storage_account.logs.primary_blob_endpoint
}

output "HB_AZURE_STORAGE_CONTAINER" {
  value = azurerm_storage_container.logs.name
}

output "workers_resource_group" {
  value = azurerm_resource_group.workers.name
}

output "workers_subnet_id" {
  value = azurerm_subnet.workers.id
}

output "worker_identity_id" {
  value = azurerm_user_assigned_identity.ids["worker"].id
}

output "api_identity_client_id" {
  value = azurerm_user_assigned_identity.ids["api"].client_id
}

output "driver_identity_client_id" {
  value = azurerm_user_assigned_identity.ids["driver"].client_id
}

output "registry" {
  value = azurerm_container_registry.images.login_server
}

output "postgres_fqdn" {
  value = azurerm_postgresql_flexible_server.postgres.fqdn
}

output "cluster" {
  value = azurerm_kubernetes_cluster.aks.name
}
