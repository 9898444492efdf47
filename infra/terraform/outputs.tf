# Each output is one of the action's inputs (or the role for aws-actions/configure-aws-credentials).

output "region" {
  description = "aws-region (configure-aws-credentials and the action)"
  value       = var.region
}

output "role_arn" {
  description = "role-to-assume of aws-actions/configure-aws-credentials"
  value       = aws_iam_role.ci.arn
}

output "cluster" {
  description = "cluster"
  value       = aws_ecs_cluster.main.name
}

output "task_definition" {
  description = "task-definition"
  value       = aws_ecs_task_definition.tester.family
}

output "subnets" {
  description = "subnets"
  value       = join(",", local.private ? aws_subnet.private[*].id : aws_subnet.public[*].id)
}

output "security_groups" {
  description = "security-groups"
  value       = aws_security_group.tasks.id
}

output "assign_public_ip" {
  description = "assign-public-ip"
  value       = local.private ? "false" : "true"
}

output "ecr_repository" {
  description = "ecr-repository (when the workflow builds its own tester image)"
  value       = aws_ecr_repository.tester.name
}

output "results_table" {
  description = "results-table (when results_table is set)"
  value       = var.results_table ? aws_dynamodb_table.results[0].name : null
}

output "ci_user" {
  description = "The IAM user for CI without OIDC, when create_ci_user is set: create its access key yourself"
  value       = var.create_ci_user ? aws_iam_user.ci[0].name : null
}

output "workflow_snippet" {
  description = "The steps to paste into a workflow job (which needs permissions: id-token: write, contents: read, pull-requests: write)"
  value       = <<-YAML
      - uses: aws-actions/configure-aws-credentials@e3dd6a429d7300a6a4c196c26e071d42e0343502 # v4.0.2
        with:
          role-to-assume: ${aws_iam_role.ci.arn}
          aws-region: ${var.region}
      - uses: OWNER/ecs-loadtest@v1
        with:
          cluster: ${aws_ecs_cluster.main.name}
          task-definition: ${aws_ecs_task_definition.tester.family}
          subnets: ${join(",", local.private ? aws_subnet.private[*].id : aws_subnet.public[*].id)}
          security-groups: ${aws_security_group.tasks.id}
          assign-public-ip: "${local.private ? "false" : "true"}"
          ecr-repository: ${aws_ecr_repository.tester.name}
          target-url: https://staging.example.com/
          rate: "200"
          duration: 2m%{if var.results_table}
          results-table: ${aws_dynamodb_table.results[0].name}%{endif}
  YAML
}
