# Hail Batch on Azure: a resource group per deployment, a VNet with subnets for AKS (api and
# Temporal), the driver's node pool, worker VMs and PostgreSQL; network security groups
# (workers reach the API; only the driver's subnet reaches workers); one managed identity per
# role with the least it needs; the log storage account; a container registry; Azure Database
# for PostgreSQL flexible server (private access); Temporal by Helm or Temporal Cloud.

terraform {
  required_version = ">= 1.5"
  required_providers {
    azurerm    = { source = "hashicorp/azurerm", version = "~> 4.0" }
    helm       = { source = "hashicorp/helm", version = "~> 2.13" }
    kubernetes = { source = "hashicorp/kubernetes", version = "~> 2.30" }
    random     = { source = "hashicorp/random", version = "~> 3.6" }
  }
}

provider "azurerm" {
  features {}
  subscription_id = var.subscription_id
}

locals {
  tags = { "hail-batch-deployment" = var.deployment }
}

resource "azurerm_resource_group" "rg" {
  name     = var.deployment
  location = var.location
  tags     = local.tags
}

# Worker VMs live in a resource group of their own: the driver's role is scoped to it alone.
resource "azurerm_resource_group" "workers" {
  name     = "${var.deployment}-workers"
  location = var.location
  tags     = local.tags
}

# ---- network -----------------------------------------------------------------------------------

resource "azurerm_virtual_network" "vnet" {
  name                = var.deployment
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name
  address_space       = ["10.0.0.0/8"]
}

resource "azurerm_subnet" "aks" {
  name                 = "aks"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.vnet.name
  address_prefixes     = ["10.10.0.0/20"]
}

# The driver's nodes; with Azure CNI overlay pod traffic leaves with the node's address, so
# this subnet is the one source the workers' NSG admits.
resource "azurerm_subnet" "driver" {
  name                 = "driver"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.vnet.name
  address_prefixes     = [var.driver_cidr]
}

resource "azurerm_subnet" "workers" {
  name                 = "workers"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.vnet.name
  address_prefixes     = [var.worker_cidr]
  service_endpoints    = ["Microsoft.Storage"]
}

resource "azurerm_subnet" "postgres" {
  name                 = "postgres"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.vnet.name
  address_prefixes     = ["10.60.0.0/24"]
  delegation {
    name = "postgres"
    service_delegation {
      name    = "Microsoft.DBforPostgreSQL/flexibleServers"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

resource "azurerm_network_security_group" "workers" {
  name                = "${var.deployment}-workers"
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name

  security_rule {
    name                       = "driver-to-agents"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_address_prefix      = var.driver_cidr
    source_port_range          = "*"
    destination_address_prefix = var.worker_cidr
    destination_port_range     = tostring(var.agent_port)
  }
  # Azure's default rules admit the whole VNet; this one takes precedence over them.
  security_rule {
    name                       = "deny-everything-else"
    priority                   = 4000
    direction                  = "Inbound"
    access                     = "Deny"
    protocol                   = "*"
    source_address_prefix      = "*"
    source_port_range          = "*"
    destination_address_prefix = "*"
    destination_port_range     = "*"
  }
}

resource "azurerm_subnet_network_security_group_association" "workers" {
  subnet_id                 = azurerm_subnet.workers.id
  network_security_group_id = azurerm_network_security_group.workers.id
}

resource "azurerm_network_security_group" "aks" {
  name                = "${var.deployment}-aks"
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name

  # Workers reach the API's internal load balancer, and nothing else in the cluster.
  security_rule {
    name                       = "workers-to-api"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_address_prefix      = var.worker_cidr
    source_port_range          = "*"
    destination_address_prefix = "10.10.0.0/20"
    destination_port_range     = "5050"
  }
  security_rule {
    name                       = "workers-nothing-else"
    priority                   = 110
    direction                  = "Inbound"
    access                     = "Deny"
    protocol                   = "*"
    source_address_prefix      = var.worker_cidr
    source_port_range          = "*"
    destination_address_prefix = "*"
    destination_port_range     = "*"
  }
}

resource "azurerm_subnet_network_security_group_association" "aks" {
  subnet_id                 = azurerm_subnet.aks.id
  network_security_group_id = azurerm_network_security_group.aks.id
}

# Outbound for workers (image pulls) without public addresses on them.
resource "azurerm_public_ip" "nat" {
  name                = "${var.deployment}-nat"
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_nat_gateway" "nat" {
  name                = "${var.deployment}-nat"
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name
}

resource "azurerm_nat_gateway_public_ip_association" "nat" {
  nat_gateway_id       = azurerm_nat_gateway.nat.id
  public_ip_address_id = azurerm_public_ip.nat.id
}

resource "azurerm_subnet_nat_gateway_association" "workers" {
  subnet_id      = azurerm_subnet.workers.id
  nat_gateway_id = azurerm_nat_gateway.nat.id
}

# ---- identities --------------------------------------------------------------------------------

resource "azurerm_user_assigned_identity" "ids" {
  for_each            = toset(["api", "driver", "worker"])
  name                = "${var.deployment}-${each.key}"
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name
}

# The driver creates VMs, NICs and disks in the workers' group only, and may attach the
# worker identity to them, no other.
resource "azurerm_role_assignment" "driver_vms" {
  scope                = azurerm_resource_group.workers.id
  role_definition_name = "Virtual Machine Contributor"
  principal_id         = azurerm_user_assigned_identity.ids["driver"].principal_id
}

resource "azurerm_role_assignment" "driver_network" {
  scope                = azurerm_resource_group.workers.id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_user_assigned_identity.ids["driver"].principal_id
}

resource "azurerm_role_assignment" "driver_joins_worker_subnet" {
  scope                = azurerm_subnet.workers.id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_user_assigned_identity.ids["driver"].principal_id
}

resource "azurerm_role_assignment" "driver_assigns_worker_identity" {
  scope                = azurerm_user_assigned_identity.ids["worker"].id
  role_definition_name = "Managed Identity Operator"
  principal_id         = azurerm_user_assigned_identity.ids["driver"].principal_id
}

# ---- storage and registry ----------------------------------------------------------------------

resource "azurerm_storage_account" "logs" {
  name                            = var.storage_account
  resource_group_name             = azurerm_resource_group.rg.name
  location                        = azurerm_resource_group.rg.location
  account_tier                    = "Standard"
  account_replication_type        = "ZRS"
  min_tls_version                 = "TLS1_2"
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
}

resource "azurerm_storage_container" "logs" {
  name                  = "logs"
  storage_account_id    = azurerm_storage_account.logs.id
  container_access_type = "private"
}

# Workers write logs and status documents; the API reads them; on this container only.
resource "azurerm_role_assignment" "worker_writes_logs" {
  scope                = azurerm_storage_container.logs.resource_manager_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.ids["worker"].principal_id
}

resource "azurerm_role_assignment" "api_reads_logs" {
  scope                = azurerm_storage_container.logs.resource_manager_id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.ids["api"].principal_id
}

resource "azurerm_container_registry" "images" {
  name                = var.registry
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  sku                 = "Standard"
  admin_enabled       = false
}

resource "azurerm_role_assignment" "pull" {
  for_each             = toset(["worker"])
  scope                = azurerm_container_registry.images.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.ids[each.key].principal_id
}

resource "azurerm_role_assignment" "aks_pull" {
  scope                = azurerm_container_registry.images.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_kubernetes_cluster.aks.kubelet_identity[0].object_id
}

# ---- AKS for api, driver and Temporal ----------------------------------------------------------

resource "azurerm_kubernetes_cluster" "aks" {
  name                      = var.deployment
  location                  = azurerm_resource_group.rg.location
  resource_group_name       = azurerm_resource_group.rg.name
  dns_prefix                = var.deployment
  oidc_issuer_enabled       = true
  workload_identity_enabled = true
  default_node_pool {
    name                 = "services"
    vm_size              = "Standard_D4s_v5"
    vnet_subnet_id       = azurerm_subnet.aks.id
    auto_scaling_enabled = true
    min_count            = 1
    max_count            = 5
  }
  identity {
    type = "SystemAssigned"
  }
  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_policy      = "azure"
  }
}

resource "azurerm_kubernetes_cluster_node_pool" "driver" {
  name                  = "driver"
  kubernetes_cluster_id = azurerm_kubernetes_cluster.aks.id
  vm_size               = "Standard_D4s_v5"
  node_count            = 1
  vnet_subnet_id        = azurerm_subnet.driver.id
  node_labels           = { "hail-batch/role" = "driver" }
  node_taints           = ["hail-batch/role=driver:NoSchedule"]
}

# Workload identity: the api's and driver's Kubernetes service accounts act as their identities.
resource "azurerm_federated_identity_credential" "k8s" {
  for_each            = toset(["api", "driver"])
  name                = "batch-${each.key}"
  resource_group_name = azurerm_resource_group.rg.name
  parent_id           = azurerm_user_assigned_identity.ids[each.key].id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.aks.oidc_issuer_url
  subject             = "system:serviceaccount:${var.namespace}:batch-${each.key}"
}

# ---- PostgreSQL ----------------------------------------------------------------------------------

resource "azurerm_private_dns_zone" "postgres" {
  name                = "${var.deployment}.postgres.database.azure.com"
  resource_group_name = azurerm_resource_group.rg.name
}

resource "azurerm_private_dns_zone_virtual_network_link" "postgres" {
  name                  = "postgres"
  resource_group_name   = azurerm_resource_group.rg.name
  private_dns_zone_name = azurerm_private_dns_zone.postgres.name
  virtual_network_id    = azurerm_virtual_network.vnet.id
}

resource "random_password" "db" {
  for_each = toset(["admin", "batch", "temporal"])
  length   = 32
  special  = false
}

resource "azurerm_postgresql_flexible_server" "postgres" {
  name                          = var.deployment
  resource_group_name           = azurerm_resource_group.rg.name
  location                      = azurerm_resource_group.rg.location
  version                       = "15"
  sku_name                      = var.postgres_sku
  storage_mb                    = 131072
  delegated_subnet_id           = azurerm_subnet.postgres.id
  private_dns_zone_id           = azurerm_private_dns_zone.postgres.id
  public_network_access_enabled = false
  administrator_login           = "batchadmin"
  administrator_password        = random_password.db["admin"].result
  backup_retention_days         = 14
  zone                          = "1"
  depends_on                    = [azurerm_private_dns_zone_virtual_network_link.postgres]
}

resource "azurerm_postgresql_flexible_server_database" "dbs" {
  for_each  = toset(["batch", "temporal", "temporal_visibility"])
  name      = each.value
  server_id = azurerm_postgresql_flexible_server.postgres.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

# ---- Kubernetes: namespace, secrets, Temporal ----------------------------------------------------

provider "kubernetes" {
  host                   = azurerm_kubernetes_cluster.aks.kube_config[0].host
  client_certificate     = base64decode(azurerm_kubernetes_cluster.aks.kube_config[0].client_certificate)
  client_key             = base64decode(azurerm_kubernetes_cluster.aks.kube_config[0].client_key)
  cluster_ca_certificate = base64decode(azurerm_kubernetes_cluster.aks.kube_config[0].cluster_ca_certificate)
}

provider "helm" {
  kubernetes {
    host                   = azurerm_kubernetes_cluster.aks.kube_config[0].host
    client_certificate     = base64decode(azurerm_kubernetes_cluster.aks.kube_config[0].client_certificate)
    client_key             = base64decode(azurerm_kubernetes_cluster.aks.kube_config[0].client_key)
    cluster_ca_certificate = base64decode(azurerm_kubernetes_cluster.aks.kube_config[0].cluster_ca_certificate)
  }
}

resource "kubernetes_namespace" "batch" {
  metadata {
    name = var.namespace
  }
}

# The batch and temporal database roles are made by hand once (deploy/README.md), with these passwords.
resource "kubernetes_secret" "batch_db" {
  metadata {
    name      = "batch-secrets"
    namespace = kubernetes_namespace.batch.metadata[0].name
  }
  data = {
    DATABASE_URL = "postgres://batch:${random_password.db["batch"].result}@${azurerm_postgresql_flexible_server.postgres.fqdn}:5432/batch?sslmode=require"
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
    value = azurerm_postgresql_flexible_server.postgres.fqdn
  }
  set {
    name  = "server.config.persistence.visibility.sql.host"
    value = azurerm_postgresql_flexible_server.postgres.fqdn
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
  depends_on = [kubernetes_secret.temporal_db, azurerm_postgresql_flexible_server_database.dbs]
}
