# The roles: the tasks' execution role (pull the image, write the logs), the tasks' own role (no
# permissions: a load generator calls no AWS API), and the CI role the workflow assumes with
# GitHub OIDC, allowed exactly the calls the action makes.

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "ECS task execution role of the load test tasks: pulls the image from ECR, writes the logs, reads the secrets under secrets_prefix"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }
  statement {
    sid       = "PullTester"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = local.repository_arns
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = local.task_log_streams
  }
  # The action's `secrets`: ECS reads each with this role when a task starts, so a value never
  # passes through a request of the action's. Only names under `secrets_prefix`.
  dynamic "statement" {
    for_each = var.secrets_prefix == "" ? [] : [1]
    content {
      sid       = "ReadSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [for region in local.regions_in_order : "arn:${local.partition}:secretsmanager:${region}:${local.account}:secret:${var.secrets_prefix}*"]
    }
  }
  dynamic "statement" {
    for_each = var.secrets_prefix == "" ? [] : [1]
    content {
      sid       = "ReadParameters"
      actions   = ["ssm:GetParameters"]
      resources = [for region in local.regions_in_order : "arn:${local.partition}:ssm:${region}:${local.account}:parameter/${trimprefix(var.secrets_prefix, "/")}*"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "Role of the load test containers themselves: no permissions"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

# --- CI access: GitHub OIDC ---

resource "aws_iam_openid_connect_provider" "github" {
  count          = var.existing_oidc_provider_arn == "" ? 1 : 0
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  # IAM verifies GitHub's certificate against its own trusted CAs; the thumbprint is required by
  # the API but not used for this provider.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}

locals {
  oidc_provider_arn = var.existing_oidc_provider_arn != "" ? var.existing_oidc_provider_arn : aws_iam_openid_connect_provider.github[0].arn
  # Exactly the subjects GitHub presents for this repository: no wildcard that lets another
  # repository in.
  oidc_subjects = concat(
    [for branch in var.github_branches : "repo:${var.github_repository}:ref:refs/heads/${branch}"],
    var.github_pull_requests ? ["repo:${var.github_repository}:pull_request"] : [],
    [for environment in var.github_environments : "repo:${var.github_repository}:environment:${environment}"],
  )
}

data "aws_iam_policy_document" "ci_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = local.oidc_subjects
    }
  }
}

resource "aws_iam_role" "ci" {
  name                 = "${var.name}-ci"
  description          = "Assumed by ${var.github_repository}'s workflows (GitHub OIDC) to run load tests"
  assume_role_policy   = data.aws_iam_policy_document.ci_trust.json
  max_session_duration = 3600
}

# Each region's cluster, tasks, family, repository and log group: the role may act in every
# region of the stack, and only there.
locals {
  cluster_arns     = [for region in local.regions_in_order : local.places[region].cluster_arn]
  task_arns        = [for region in local.regions_in_order : "arn:${local.partition}:ecs:${region}:${local.account}:task/${var.name}/*"]
  task_family_arns = [for region in local.regions_in_order : "arn:${local.partition}:ecs:${region}:${local.account}:task-definition/${var.name}:*"]
  repository_arns  = [for region in local.regions_in_order : local.places[region].ecr_repository_arn]
  task_log_groups  = [for region in local.regions_in_order : "${local.places[region].log_group_arn}:*"]
  task_log_streams = [for region in local.regions_in_order : "${local.places[region].log_group_arn}:log-stream:*"]
  flow_log_groups  = [for region in local.regions_in_order : "${local.places[region].flow_log_group_arn}:*" if var.flow_logs]
  task_roles       = [aws_iam_role.execution.arn, aws_iam_role.task.arn]
}

# Every call the action makes, and nothing else (tests/infra/policy_sync.py checks this against
# the code).
data "aws_iam_policy_document" "ci" {
  statement {
    sid       = "Identity"
    actions   = ["sts:GetCallerIdentity"]
    resources = ["*"] # GetCallerIdentity needs no permission and has no resource
  }
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }
  statement {
    sid = "PushTester"
    actions = [
      "ecr:DescribeRepositories",
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
    ]
    resources = local.repository_arns
  }
  statement {
    sid       = "TaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"] # neither action supports resource-level permissions
  }
  statement {
    sid       = "RunTasks"
    actions   = ["ecs:RunTask"]
    resources = local.task_family_arns
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = local.cluster_arns
    }
  }
  statement {
    sid       = "WatchAndStopTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = local.task_arns
  }
  statement {
    sid       = "ListTasks"
    actions   = ["ecs:ListTasks"]
    resources = ["*"] # ListTasks is limited by the cluster condition, not a resource
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = local.cluster_arns
    }
  }
  statement {
    sid       = "TagOnCreate"
    actions   = ["ecs:TagResource"]
    resources = concat(local.task_arns, local.task_family_arns)
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask", "RegisterTaskDefinition"]
    }
  }
  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = local.task_roles
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
  statement {
    sid     = "ReadTaskLogs"
    actions = ["logs:GetLogEvents", "logs:FilterLogEvents"]
    # FilterLogEvents is checked on the group (`…:log-group:NAME:*`), GetLogEvents on a stream.
    resources = concat(local.task_log_groups, local.task_log_streams)
  }
  # Unless turned off: each region's Fargate prices for the cost estimate. GetProducts reads public
  # prices and has no resource-level permissions.
  dynamic "statement" {
    for_each = var.price_list ? ["*"] : []
    content {
      sid       = "FargatePrices"
      actions   = ["pricing:GetProducts"]
      resources = [statement.value]
    }
  }
  # Only with the results table: store each run, read the baseline and `history` (Query).
  dynamic "statement" {
    for_each = aws_dynamodb_table.results[*].arn
    content {
      sid       = "ResultHistory"
      actions   = ["dynamodb:PutItem", "dynamodb:Query"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_policy" "ci" {
  name        = "${var.name}-ci"
  description = "What the ecs-loadtest action calls: push the tester image, register revisions, run, watch and stop tasks, read their logs, keep results, read Fargate prices"
  policy      = data.aws_iam_policy_document.ci.json
}

resource "aws_iam_role_policy_attachment" "ci" {
  role       = aws_iam_role.ci.name
  policy_arn = aws_iam_policy.ci.arn
}

# Only when asked: an IAM user for CI systems without OIDC. Create its access key yourself and
# keep it in the CI system's secrets; rotate it.
resource "aws_iam_user" "ci" {
  count = var.create_ci_user ? 1 : 0
  name  = "${var.name}-ci"
  tags  = { warning = "long-lived access keys: prefer the OIDC role ${var.name}-ci" }
}

resource "aws_iam_group" "ci" {
  count = var.create_ci_user ? 1 : 0
  name  = "${var.name}-ci"
}

resource "aws_iam_group_policy_attachment" "ci" {
  count      = var.create_ci_user ? 1 : 0
  group      = aws_iam_group.ci[0].name
  policy_arn = aws_iam_policy.ci.arn
}

resource "aws_iam_user_group_membership" "ci" {
  count  = var.create_ci_user ? 1 : 0
  user   = aws_iam_user.ci[0].name
  groups = [aws_iam_group.ci[0].name]
}

# Flow logs, when enabled, write with their own role.
data "aws_iam_policy_document" "flow_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "flow" {
  count              = var.flow_logs ? 1 : 0
  name               = "${var.name}-flow-logs"
  description        = "VPC flow logs of ${var.name} to CloudWatch Logs"
  assume_role_policy = data.aws_iam_policy_document.flow_trust.json
}

data "aws_iam_policy_document" "flow" {
  count = var.flow_logs ? 1 : 0
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = local.flow_log_groups
  }
}

resource "aws_iam_role_policy" "flow" {
  count  = var.flow_logs ? 1 : 0
  name   = "write-flow-logs"
  role   = aws_iam_role.flow[0].id
  policy = data.aws_iam_policy_document.flow[0].json
}
