# The stack in each region: the home region (`region`, where the CI role's credentials, the
# results table and the price list are asked) and each of `regions`. IAM is global: the roles are
# made once (iam.tf) and every region's part uses them.

locals {
  other_regions = toset([for region in var.regions : region if region != var.region])
}

module "home" {
  source             = "./modules/region"
  region             = var.region
  name               = var.name
  network_mode       = var.network_mode
  private_egress     = var.private_egress
  vpc_cidr           = var.vpc_cidr
  keep_images        = var.keep_images
  kms_key_arn        = var.kms_key_arn
  log_retention_days = var.log_retention_days
  container_insights = var.container_insights
  flow_logs          = var.flow_logs
  task_cpu           = var.task_cpu
  task_memory        = var.task_memory
  execution_role_arn = aws_iam_role.execution.arn
  task_role_arn      = aws_iam_role.task.arn
  flow_role_arn      = var.flow_logs ? aws_iam_role.flow[0].arn : ""
}

module "other" {
  source             = "./modules/region"
  for_each           = local.other_regions
  region             = each.key
  name               = var.name
  network_mode       = var.network_mode
  private_egress     = var.private_egress
  vpc_cidr           = var.vpc_cidr
  keep_images        = var.keep_images
  kms_key_arn        = lookup(var.region_kms_key_arns, each.key, "")
  log_retention_days = var.log_retention_days
  container_insights = var.container_insights
  flow_logs          = var.flow_logs
  task_cpu           = var.task_cpu
  task_memory        = var.task_memory
  execution_role_arn = aws_iam_role.execution.arn
  task_role_arn      = aws_iam_role.task.arn
  flow_role_arn      = var.flow_logs ? aws_iam_role.flow[0].arn : ""
}

locals {
  # Every region's part, keyed by region, the home region first in `regions_in_order`.
  places           = merge({ (var.region) = module.home }, module.other)
  regions_in_order = concat([var.region], sort(tolist(local.other_regions)))
}

# A stack applied before regions existed keeps its resources: they moved into the home part.
moved {
  from = aws_vpc.main
  to   = module.home.aws_vpc.main
}

moved {
  from = aws_default_security_group.default
  to   = module.home.aws_default_security_group.default
}

moved {
  from = aws_flow_log.main
  to   = module.home.aws_flow_log.main
}

moved {
  from = aws_internet_gateway.main
  to   = module.home.aws_internet_gateway.main
}

moved {
  from = aws_subnet.public
  to   = module.home.aws_subnet.public
}

moved {
  from = aws_route_table.public
  to   = module.home.aws_route_table.public
}

moved {
  from = aws_route_table_association.public
  to   = module.home.aws_route_table_association.public
}

moved {
  from = aws_subnet.private
  to   = module.home.aws_subnet.private
}

moved {
  from = aws_route_table.private
  to   = module.home.aws_route_table.private
}

moved {
  from = aws_route_table_association.private
  to   = module.home.aws_route_table_association.private
}

moved {
  from = aws_eip.nat
  to   = module.home.aws_eip.nat
}

moved {
  from = aws_nat_gateway.main
  to   = module.home.aws_nat_gateway.main
}

moved {
  from = aws_vpc_endpoint.interface
  to   = module.home.aws_vpc_endpoint.interface
}

moved {
  from = aws_vpc_endpoint.s3
  to   = module.home.aws_vpc_endpoint.s3
}

moved {
  from = aws_security_group.endpoints
  to   = module.home.aws_security_group.endpoints
}

moved {
  from = aws_security_group.tasks
  to   = module.home.aws_security_group.tasks
}

moved {
  from = aws_ecr_repository.tester
  to   = module.home.aws_ecr_repository.tester
}

moved {
  from = aws_ecr_lifecycle_policy.tester
  to   = module.home.aws_ecr_lifecycle_policy.tester
}

moved {
  from = aws_ecs_cluster.main
  to   = module.home.aws_ecs_cluster.main
}

moved {
  from = aws_ecs_cluster_capacity_providers.main
  to   = module.home.aws_ecs_cluster_capacity_providers.main
}

moved {
  from = aws_cloudwatch_log_group.tasks
  to   = module.home.aws_cloudwatch_log_group.tasks
}

moved {
  from = aws_cloudwatch_log_group.flow
  to   = module.home.aws_cloudwatch_log_group.flow
}

moved {
  from = aws_ecs_task_definition.tester
  to   = module.home.aws_ecs_task_definition.tester
}
