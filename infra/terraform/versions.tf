terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = var.tags
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:only the first two zones are used (slice), so a zone AWS adds changes nothing
  state = "available"
}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  azs       = slice(data.aws_availability_zones.available.names, 0, 2)
  private   = var.network_mode == "private"
}
