variable "region" {
  description = "Region of the bucket, the function and the database (S3 notifies Lambda in its own region only)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region: an AWS region such as eu-west-1."
  }
}

variable "build_profile" {
  description = "AWS CLI profile with administrator access to the build account (the bucket's owner)."
  type        = string
}

variable "target_profile" {
  description = "AWS CLI profile with administrator access to the target account (the database's owner)."
  type        = string
}

variable "name" {
  description = "Name of the deployment in the target account, and the prefix of the bucket's name."
  type        = string
  default     = "pgmi"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.name))
    error_message = "name: 2 to 24 characters, lower-case letters, digits and '-', starting with a letter."
  }
}

variable "bundle_prefix" {
  description = "Key prefix that triggers deploys."
  type        = string
  default     = "bundles/"

  validation {
    condition     = can(regex("^[^/].*/$", var.bundle_prefix))
    error_message = "bundle_prefix: a non-empty key prefix ending in '/'."
  }
}

variable "results_prefix" {
  description = "Key prefix of the result objects the target account's function writes back into the build bucket."
  type        = string
  default     = "pgmi-results/"

  validation {
    condition     = can(regex("^[^/].*/$", var.results_prefix)) && !startswith(var.results_prefix, var.bundle_prefix) && !startswith(var.bundle_prefix, var.results_prefix)
    error_message = "results_prefix: a key prefix ending in '/' that does not overlap bundle_prefix."
  }
}

variable "uploader_arns" {
  description = "Principals in the build account allowed to upload bundles (the release pipeline's role)."
  type        = list(string)

  validation {
    condition     = length(var.uploader_arns) > 0 && alltrue([for a in var.uploader_arns : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+$", a))])
    error_message = "uploader_arns: at least one IAM principal ARN."
  }
}

variable "db_host" {
  description = "Endpoint of the database in the target account."
  type        = string
}

variable "db_name" {
  description = "Target database."
  type        = string
}

variable "db_user" {
  description = "Database role the function logs in as (infra/sql/aws-rds-iam.sql)."
  type        = string
  default     = "pgmi_deployer"
}

variable "db_resource_id" {
  description = "DbiResourceId (db-…) or cluster resource id (cluster-…) of the database."
  type        = string

  validation {
    condition     = can(regex("^(db|cluster|prx)-[A-Za-z0-9]+$", var.db_resource_id))
    error_message = "db_resource_id: db-…, cluster-… or prx-…."
  }
}

variable "db_ca_bundle_path" {
  description = "Local path of the RDS CA bundle for verify-full."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the database's VPC for the function (empty: outside any VPC)."
  type        = list(string)
  default     = []
}

variable "trusted_signers" {
  description = "allowed_signers text of the release keys: the target account trusts signatures, not the build account's bucket."
  type        = string

  validation {
    condition     = length(trimspace(var.trusted_signers)) > 0
    error_message = "trusted_signers: at least one allowed_signers line."
  }
}

variable "fleet_enabled" {
  description = "Fleet rollouts: create the fleet queue in the target account and deliver its messages to the function (the module's fleet_enabled)."
  type        = bool
  default     = false
}

variable "fleet_concurrency" {
  description = "At most this many fleet deploys at once (the module's fleet_concurrency: the event source mapping's maximum_concurrency)."
  type        = number
  default     = 8

  validation {
    condition     = var.fleet_concurrency >= 2 && var.fleet_concurrency <= 1000 && floor(var.fleet_concurrency) == var.fleet_concurrency
    error_message = "fleet_concurrency: a whole number from 2 to 1000."
  }
}
