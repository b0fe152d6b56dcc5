# Optional VPC placement for a private database. The created security group
# only allows what a deploy needs: the database port inside the VPC and
# HTTPS to S3/STS (gateway/interface endpoints or NAT).

data "aws_subnet" "first" {
  count = length(var.subnet_ids) > 0 ? 1 : 0
  id    = var.subnet_ids[0]
}

data "aws_vpc" "function" {
  count = length(var.subnet_ids) > 0 ? 1 : 0
  id    = data.aws_subnet.first[0].vpc_id
}

resource "aws_security_group" "deployer" {
  count = length(var.subnet_ids) > 0 && length(var.security_group_ids) == 0 ? 1 : 0

  name        = "${var.name}-deployer"
  description = "pgmi deployer Lambda: egress to PostgreSQL and HTTPS only"
  vpc_id      = data.aws_vpc.function[0].id

  egress {
    description = "PostgreSQL inside the VPC"
    protocol    = "tcp"
    from_port   = var.db_port
    to_port     = var.db_port
    cidr_blocks = [data.aws_vpc.function[0].cidr_block]
  }

  egress {
    description = "HTTPS to S3 and STS"
    protocol    = "tcp"
    from_port   = 443
    to_port     = 443
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = var.tags
}

locals {
  security_group_ids = length(var.security_group_ids) > 0 ? var.security_group_ids : aws_security_group.deployer[*].id
}
