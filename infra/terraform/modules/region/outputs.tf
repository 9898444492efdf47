# What the root needs of one region: the action's inputs for it, and the ARNs its policies name.

output "cluster" {
  value = aws_ecs_cluster.main.name
}

output "cluster_arn" {
  value = aws_ecs_cluster.main.arn
}

output "task_definition" {
  value = aws_ecs_task_definition.tester.family
}

output "subnets" {
  value = local.private ? aws_subnet.private[*].id : aws_subnet.public[*].id
}

output "security_group" {
  value = aws_security_group.tasks.id
}

output "assign_public_ip" {
  value = local.private ? "false" : "true"
}

output "ecr_repository" {
  value = aws_ecr_repository.tester.name
}

output "ecr_repository_arn" {
  value = aws_ecr_repository.tester.arn
}

output "log_group_arn" {
  value = aws_cloudwatch_log_group.tasks.arn
}

output "flow_log_group_arn" {
  value = var.flow_logs ? aws_cloudwatch_log_group.flow[0].arn : null
}
