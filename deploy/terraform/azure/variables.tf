variable "subscription_id" {
  type = string
}

variable "location" {
  type    = string
  default = "eastus"
}

variable "deployment" {
  type        = string
  description = "Names the resource groups and tags every worker VM (lower case, at most 20 characters)."
  default     = "hail-batch"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.deployment))
    error_message = "deployment must be lower case letters, digits and dashes, at most 20 characters."
  }
}

variable "storage_account" {
  type        = string
  description = "The storage account's globally unique name (3-24 lower case letters and digits)."
}

variable "registry" {
  type        = string
  description = "The container registry's globally unique name (letters and digits)."
}

variable "namespace" {
  type    = string
  default = "batch"
}

variable "worker_cidr" {
  type    = string
  default = "10.40.0.0/16"
}

variable "driver_cidr" {
  type    = string
  default = "10.50.0.0/24"
}

variable "agent_port" {
  type    = number
  default = 5000
}

variable "postgres_sku" {
  type    = string
  default = "GP_Standard_D2ds_v5"
}

variable "temporal_chart_version" {
  type    = string
  default = "0.52.0"
}

variable "temporal_cloud_address" {
  type        = string
  description = "host:port of a Temporal Cloud namespace; empty to run Temporal in the cluster with Helm."
  default     = ""
}
