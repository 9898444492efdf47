# One region's part of the stack: the VPC the tasks run in, the ECR repository, the cluster, the
# log group and the base task definition. The root calls it once for its home region and once for
# each of `regions`; every resource names its region (AWS provider 6), so one provider serves all.

data "aws_availability_zones" "available" {
  region = var.region
  #checkov:skip=CKV_AWS_394:only the first two zones are used (slice), so a zone AWS adds changes nothing
  state = "available"
}

locals {
  azs     = slice(data.aws_availability_zones.available.names, 0, 2)
  private = var.network_mode == "private"
}

# The VPC the tasks run in. public: two public subnets, tasks get public IPs. private: two private
# subnets without public IPs, plus a NAT gateway or VPC endpoints.

resource "aws_vpc" "main" {
  region               = var.region
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # required for the interface endpoints' private DNS
  tags                 = { Name = var.name }
}

# The default security group of the VPC allows nothing: no task uses it.
resource "aws_default_security_group" "default" {
  region = var.region
  vpc_id = aws_vpc.main.id
  tags   = { Name = "${var.name}-default-unused" }
}

resource "aws_flow_log" "main" {
  region               = var.region
  count                = var.flow_logs ? 1 : 0
  vpc_id               = aws_vpc.main.id
  traffic_type         = "REJECT"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow[0].arn
  iam_role_arn         = var.flow_role_arn
}

resource "aws_internet_gateway" "main" {
  region = var.region
  vpc_id = aws_vpc.main.id
  tags   = { Name = var.name }
}

resource "aws_subnet" "public" {
  region            = var.region
  count             = 2
  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index)
  # Tasks get public IPs through RunTask's assignPublicIp, not from the subnet.
  map_public_ip_on_launch = false
  tags                    = { Name = "${var.name}-public-${local.azs[count.index]}" }
}

resource "aws_route_table" "public" {
  region = var.region
  vpc_id = aws_vpc.main.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }
  tags = { Name = "${var.name}-public" }
}

resource "aws_route_table_association" "public" {
  region         = var.region
  count          = 2
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_subnet" "private" {
  region            = var.region
  count             = local.private ? 2 : 0
  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index + 8)
  tags              = { Name = "${var.name}-private-${local.azs[count.index]}" }
}

resource "aws_route_table" "private" {
  region = var.region
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
  region         = var.region
  count          = local.private ? 2 : 0
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

resource "aws_eip" "nat" {
  region = var.region
  count  = local.private && var.private_egress == "nat" ? 1 : 0
  domain = "vpc"
  tags   = { Name = "${var.name}-nat" }
}

# One NAT gateway, in the first zone: a second one doubles the idle cost for a test cluster.
resource "aws_nat_gateway" "main" {
  region        = var.region
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
  region              = var.region
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
  region            = var.region
  count             = local.endpoints ? 1 : 0
  vpc_id            = aws_vpc.main.id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private[0].id]
  tags              = { Name = "${var.name}-s3" }
}

resource "aws_security_group" "endpoints" {
  region      = var.region
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
  region = var.region
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

resource "aws_ecr_repository" "tester" {
  region = var.region
  name   = var.name
  # Every build is pushed as tester:<short commit>, and a commit's image never changes.
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = var.kms_key_arn == "" ? "AES256" : "KMS"
    kms_key         = var.kms_key_arn == "" ? null : var.kms_key_arn
  }
}

resource "aws_ecr_lifecycle_policy" "tester" {
  region     = var.region
  repository = aws_ecr_repository.tester.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the ${var.keep_images} most recent images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.keep_images
      }
      action = { type = "expire" }
    }]
  })
}

resource "aws_ecs_cluster" "main" {
  region = var.region
  #checkov:skip=CKV_AWS_65:Container Insights is billed per metric; the container_insights variable enables it
  name = var.name
  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  region             = var.region
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "tasks" {
  region = var.region
  #checkov:skip=CKV_AWS_338:load test output is kept as long as log_retention_days says (default 30); the verdict lives in the job summary
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn == "" ? null : var.kms_key_arn
}

resource "aws_cloudwatch_log_group" "flow" {
  region            = var.region
  count             = var.flow_logs ? 1 : 0
  name              = "/vpc/${var.name}/flow"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn == "" ? null : var.kms_key_arn
}

# The base task definition. Its image is a placeholder: every run registers a revision with the
# image it built or was given.
resource "aws_ecs_task_definition" "tester" {
  region = var.region
  #checkov:skip=CKV_AWS_336:user tester images may write to their filesystem; the built-in generator writes nothing
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.task_cpu)
  memory                   = tostring(var.task_memory)
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  container_definitions = jsonencode([{
    name                   = "tester"
    image                  = "public.ecr.aws/docker/library/busybox:stable"
    essential              = true
    readonlyRootFilesystem = false
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.tasks.name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = "loadtest"
      }
    }
  }])
  lifecycle {
    # Runs register new revisions; Terraform owns the family's first one only.
    ignore_changes = [container_definitions]
  }
}
