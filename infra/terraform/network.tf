# The VPC the tasks run in. public: two public subnets, tasks get public IPs. private: two private
# subnets without public IPs, plus a NAT gateway or VPC endpoints.

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # required for the interface endpoints' private DNS
  tags                 = { Name = var.name }
}

# The default security group of the VPC allows nothing: no task uses it.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = "${var.name}-default-unused" }
}

resource "aws_flow_log" "main" {
  count                = var.flow_logs ? 1 : 0
  vpc_id               = aws_vpc.main.id
  traffic_type         = "REJECT"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow[0].arn
  iam_role_arn         = aws_iam_role.flow[0].arn
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = var.name }
}

resource "aws_subnet" "public" {
  count             = 2
  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index)
  # Tasks get public IPs through RunTask's assignPublicIp, not from the subnet.
  map_public_ip_on_launch = false
  tags                    = { Name = "${var.name}-public-${local.azs[count.index]}" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }
  tags = { Name = "${var.name}-public" }
}

resource "aws_route_table_association" "public" {
  count          = 2
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_subnet" "private" {
  count             = local.private ? 2 : 0
  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index + 8)
  tags              = { Name = "${var.name}-private-${local.azs[count.index]}" }
}

resource "aws_route_table" "private" {
  count  = local.private ? 1 : 0
  vpc_id = aws_vpc.main.id
  dynamic "route" {
    for_each = var.private_egress == "nat" ? [1] : []
    content {
      cidr_block     = "0.0.0.0/0"
      nat_gateway_id = aws_nat_gateway.main[0].id
    }
  }
  tags = { Name = "${var.name}-private" }
}

resource "aws_route_table_association" "private" {
  count          = local.private ? 2 : 0
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

resource "aws_eip" "nat" {
  count  = local.private && var.private_egress == "nat" ? 1 : 0
  domain = "vpc"
  tags   = { Name = "${var.name}-nat" }
}

# One NAT gateway, in the first zone: a second one doubles the idle cost for a test cluster.
resource "aws_nat_gateway" "main" {
  count         = local.private && var.private_egress == "nat" ? 1 : 0
  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id
  tags          = { Name = var.name }
  depends_on    = [aws_internet_gateway.main]
}

locals {
  endpoints = local.private && var.private_egress == "endpoints"
  # What a task needs without the internet: pulling its image (ECR api and dkr, layers from S3)
  # and writing its logs. The tasks make no STS call (their role's credentials come from the ECS
  # agent); the action's own AWS calls are made from the GitHub runner.
  interface_endpoints = local.endpoints ? toset(["ecr.api", "ecr.dkr", "logs"]) : toset([])
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = local.interface_endpoints
  vpc_id              = aws_vpc.main.id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  # One zone: an endpoint answers the whole VPC, and each zone costs as much again.
  subnet_ids         = [aws_subnet.private[0].id]
  security_group_ids = [aws_security_group.endpoints[0].id]
  tags               = { Name = "${var.name}-${each.key}" }
}

resource "aws_vpc_endpoint" "s3" {
  count             = local.endpoints ? 1 : 0
  vpc_id            = aws_vpc.main.id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private[0].id]
  tags              = { Name = "${var.name}-s3" }
}

resource "aws_security_group" "endpoints" {
  count       = local.endpoints ? 1 : 0
  name        = "${var.name}-endpoints"
  description = "HTTPS from the load test tasks to the VPC endpoints"
  vpc_id      = aws_vpc.main.id
  ingress {
    description     = "HTTPS from the tasks"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    security_groups = [aws_security_group.tasks.id]
  }
}

resource "aws_security_group" "tasks" {
  #checkov:skip=CKV_AWS_382:the load test target may be any host on any port; the group allows no inbound traffic
  #checkov:skip=CKV2_AWS_5:the action attaches this group to every task it starts (RunTask), outside Terraform
  name        = "${var.name}-tasks"
  description = "Load test tasks: no inbound traffic, any outbound (the target, ECR, CloudWatch Logs)"
  vpc_id      = aws_vpc.main.id
  egress {
    description = "Any outbound: the load test target and the AWS services the task needs"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
