# Provider requirements. This directory is both a root module (apply it as
# is: the AWS provider takes its region and credentials from the environment,
# AWS_REGION / AWS_PROFILE) and a child module (see examples/cross-account).
terraform {
  # 1.9: validation blocks that refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    # Only for the optional Lambda layer that carries the RDS CA bundle.
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }
}
