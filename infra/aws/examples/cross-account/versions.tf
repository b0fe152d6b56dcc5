terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }
}

# The build account holds the bundle bucket; the target account holds the
# database and the deployer function. S3 notifies a Lambda function only in
# its own region, so both use the same one.
provider "aws" {
  alias   = "build"
  region  = var.region
  profile = var.build_profile
}

provider "aws" {
  alias   = "target"
  region  = var.region
  profile = var.target_profile
}
