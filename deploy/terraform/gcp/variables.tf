variable "project" {
  type        = string
  description = "The GCP project id."
}

variable "region" {
  type    = string
  default = "us-central1"
}

variable "deployment" {
  type        = string
  description = "Names every resource and labels every worker VM (lower case, at most 20 characters)."
  default     = "hail-batch"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.deployment))
    error_message = "deployment must be lower case letters, digits and dashes, at most 20 characters."
  }
}

variable "namespace" {
  type    = string
  default = "batch"
}

variable "worker_cidr" {
  type    = string
  default = "10.40.0.0/16"
}

variable "driver_pod_cidr" {
  type    = string
  default = "10.50.0.0/20"
}

variable "agent_port" {
  type    = number
  default = 5000
}

variable "sql_tier" {
  type    = string
  default = "db-custom-2-7680"
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
