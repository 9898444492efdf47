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
  value       = module.home.cluster
}

output "task_definition" {
  description = "task-definition"
  value       = module.home.task_definition
}

output "subnets" {
  description = "subnets"
  value       = join(",", module.home.subnets)
}

output "security_groups" {
  description = "security-groups"
  value       = module.home.security_group
}

output "assign_public_ip" {
  description = "assign-public-ip"
  value       = module.home.assign_public_ip
}

output "ecr_repository" {
  description = "ecr-repository (when the workflow builds its own tester image)"
  value       = module.home.ecr_repository
}

output "regions" {
  description = "regions: every region of the stack, the home region first, with an equal share each (edit the shares to where the users are)"
  value = join("\n", [
    for index, region in local.regions_in_order :
    "${region}: ${floor(100 / length(local.regions_in_order)) + (index == 0 ? 100 - floor(100 / length(local.regions_in_order)) * length(local.regions_in_order) : 0)}%"
  ])
}

output "region_settings" {
  description = "region-settings: each region's cluster, task definition, network and repository, keyed by region, as the action reads it (keep it in a repository variable)"
  value = jsonencode({
    for region in local.regions_in_order : region => {
      "cluster"          = local.places[region].cluster
      "task-definition"  = local.places[region].task_definition
      "subnets"          = local.places[region].subnets
      "security-groups"  = [local.places[region].security_group]
      "assign-public-ip" = local.places[region].assign_public_ip
      "ecr-repository"   = local.places[region].ecr_repository
    }
  })
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
          cluster: ${module.home.cluster}
          task-definition: ${module.home.task_definition}
          subnets: ${join(",", module.home.subnets)}
          security-groups: ${module.home.security_group}
          assign-public-ip: "${module.home.assign_public_ip}"
          ecr-repository: ${module.home.ecr_repository}
          target-url: https://staging.example.com/
          rate: "200"
          duration: 2m%{if var.results_table}
          results-table: ${aws_dynamodb_table.results[0].name}%{endif}
  YAML
}
