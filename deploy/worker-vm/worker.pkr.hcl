# A prebuilt worker VM image: Docker installed and the worker image already pulled, so a new
# VM runs its first job without the minutes apt and the pull take. The startup script skips
# both steps when they are done (worker-vm/startup-script.ts).
#
#   packer init deploy/worker-vm      (Packer >= 1.7; older releases bundle both builders)
#   packer build -only='googlecompute.worker' -var gcp_project=my-project -var worker_image=... deploy/worker-vm
#   packer build -only='azure-arm.worker' -var azure_subscription_id=... -var azure_resource_group=... -var worker_image=... deploy/worker-vm

variable "worker_image" {
  type        = string
  description = "The worker image (deploy/worker-vm/Dockerfile) as pushed to the deployment's registry."
}

variable "gcp_project" {
  type    = string
  default = ""
}

variable "gcp_zone" {
  type    = string
  default = "us-central1-a"
}

variable "azure_subscription_id" {
  type    = string
  default = ""
}

variable "azure_resource_group" {
  type    = string
  default = ""
}

variable "azure_location" {
  type    = string
  default = "eastus"
}

variable "image_version" {
  type    = string
  default = "1"
}

source "googlecompute" "worker" {
  project_id          = var.gcp_project
  zone                = var.gcp_zone
  source_image_family = "debian-12"
  source_image_project_id = ["debian-cloud"]
  machine_type        = "n1-standard-2"
  disk_size           = 30
  image_name          = "hail-batch-worker-${var.image_version}"
  image_family        = "hail-batch-worker"
  ssh_username        = "packer"
}

source "azure-arm" "worker" {
  use_azure_cli_auth                = true
  subscription_id                   = var.azure_subscription_id
  managed_image_resource_group_name = var.azure_resource_group
  managed_image_name                = "hail-batch-worker-${var.image_version}"
  location                          = var.azure_location
  os_type                           = "Linux"
  image_publisher                   = "Debian"
  image_offer                       = "debian-12"
  image_sku                         = "12-gen2"
  vm_size                           = "Standard_D2s_v5"
}

build {
  sources = ["source.googlecompute.worker", "source.azure-arm.worker"]

  provisioner "shell" {
    environment_vars = ["WORKER_IMAGE=${var.worker_image}", "DEBIAN_FRONTEND=noninteractive"]
    execute_command  = "sudo -E bash -eu '{{ .Path }}'"
    inline = [
      "apt-get update -q",
      "apt-get install -y -q docker.io curl e2fsprogs",
      "systemctl enable docker",
      "systemctl start docker",
      # Pulling needs the registry's credentials on the build VM (gcloud / az acr helpers).
      "docker pull \"$WORKER_IMAGE\"",
      "mkdir -p /var/lib/hail-batch",
      # A clean machine id and no leftover cloud-init state, so every VM boots as new.
      "cloud-init clean --logs || true",
      "truncate -s 0 /etc/machine-id",
    ]
  }
}
