# Terraform and provider versions. `make tf-init` installs the provider from the registry, or
# offline from a filesystem mirror when TF_PLUGIN_DIR is set (terraform init -plugin-dir=...).
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # State is local by default. For a team, copy docs/deploy.md's S3 backend example into a
  # backend.tf next to this file and run `make tf-init` again.
}

provider "aws" {
  # null: the region comes from AWS_REGION / the profile, as for the AWS CLI.
  region = var.aws_region

  default_tags {
    tags = merge({ Project = var.name_prefix, ManagedBy = "terraform" }, var.tags)
  }
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  dns_suffix = data.aws_partition.current.dns_suffix
}
