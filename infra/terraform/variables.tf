variable "region" {
  type        = string
  description = "AWS region of every resource; the action's `aws-region` input."
  default     = "us-east-1"
  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "regions" {
  type        = list(string)
  description = "More regions to deploy the same stack to (the cluster, the task definition, the ECR repository, the log group and the network), for the action's `regions`; the output region_settings is its `region-settings`. The home region is `region`."
  default     = []
  validation {
    condition     = alltrue([for region in var.regions : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", region))])
    error_message = "regions must be AWS region names such as eu-west-1."
  }
}

variable "region_kms_key_arns" {
  type        = map(string)
  description = "A KMS key for the repository and the log groups of each of `regions` (a key serves its own region only); a region not named uses AWS-managed encryption."
  default     = {}
}

variable "name" {
  type        = string
  description = "Prefix of every resource name: the cluster, the task definition family, the ECR repository, the log group and the roles."
  default     = "ecs-loadtest"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2 to 31 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "github_repository" {
  type        = string
  description = "The repository whose workflows may assume the CI role, as OWNER/NAME."
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be OWNER/NAME, with no wildcard."
  }
}

variable "github_branches" {
  type        = list(string)
  description = "Branches whose push runs may assume the CI role (subject repo:OWNER/NAME:ref:refs/heads/BRANCH)."
  default     = ["main"]
  validation {
    condition     = alltrue([for branch in var.github_branches : !strcontains(branch, "*")])
    error_message = "github_branches may not contain wildcards."
  }
}

variable "github_pull_requests" {
  type        = bool
  description = "Whether pull_request runs may assume the CI role (subject repo:OWNER/NAME:pull_request). Runs from forks get no OIDC token from GitHub."
  default     = true
}

variable "github_environments" {
  type        = list(string)
  description = "GitHub environments whose jobs may assume the CI role. A job with `environment:` only ever presents the subject repo:OWNER/NAME:environment:NAME, never its branch: list the environment here, or such a job is refused."
  default     = []
  validation {
    condition     = alltrue([for environment in var.github_environments : !strcontains(environment, "*")])
    error_message = "github_environments may not contain wildcards."
  }
}

variable "existing_oidc_provider_arn" {
  type        = string
  description = "ARN of an existing IAM OIDC provider for token.actions.githubusercontent.com (an account has at most one); empty creates it."
  default     = ""
  validation {
    condition     = var.existing_oidc_provider_arn == "" || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.existing_oidc_provider_arn))
    error_message = "existing_oidc_provider_arn must be the ARN of the token.actions.githubusercontent.com provider, or empty."
  }
}

variable "create_ci_user" {
  type        = bool
  description = "Also create an IAM user with the same permissions, for CI systems without OIDC. Its access keys are long-lived secrets: prefer the OIDC role. No keys are created here."
  default     = false
}

variable "network_mode" {
  type        = string
  description = "public: two public subnets, tasks get public IPs (no idle cost). private: private subnets without public IPs, reaching AWS through a NAT gateway or VPC endpoints (see private_egress)."
  default     = "public"
  validation {
    condition     = contains(["public", "private"], var.network_mode)
    error_message = "network_mode must be public or private."
  }
}

variable "private_egress" {
  type        = string
  description = "With network_mode = private: nat (one NAT gateway: tasks reach the internet and AWS; about 37 USD a month idle in us-east-1 with its public IPv4 address, plus 0.045 USD a GB) or endpoints (interface endpoints for ECR api, ECR dkr and CloudWatch Logs in one zone and an S3 gateway for image layers: tasks reach AWS only, so the target must be inside the VPC or reachable without the internet; about 22 USD a month idle, plus 0.01 USD a GB)."
  default     = "endpoints"
  validation {
    condition     = contains(["nat", "endpoints"], var.private_egress)
    error_message = "private_egress must be nat or endpoints."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR block of the VPC; the subnets are /20s inside it."
  default     = "10.42.0.0/16"
  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 18
    error_message = "vpc_cidr must be an IPv4 CIDR block of /18 or larger."
  }
}

variable "keep_images" {
  type        = number
  description = "ECR keeps this many most recent images; older ones expire."
  default     = 30
  validation {
    condition     = var.keep_images >= 1 && var.keep_images <= 1000
    error_message = "keep_images must be between 1 and 1000."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the home region for its ECR repository and log groups (and the results table); empty uses AWS-managed encryption."
  default     = ""
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps the tasks' logs."
  default     = 30
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "container_insights" {
  type        = bool
  description = "Container Insights on the cluster (per-task metrics; billed as custom metrics)."
  default     = false
}

variable "task_cpu" {
  type        = number
  description = "CPU units of the base task definition (1024 = 1 vCPU); the action's `cpu` input overrides it per run."
  default     = 1024
  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.task_cpu)
    error_message = "task_cpu must be a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "task_memory" {
  type        = number
  description = "Memory (MiB) of the base task definition; must suit task_cpu (Fargate's table)."
  default     = 2048
  validation {
    condition     = var.task_memory >= 512 && var.task_memory <= 122880
    error_message = "task_memory must be between 512 and 122880 MiB."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags on every resource."
  default     = { "managed-by" = "terraform", "app" = "ecs-loadtest" }
}

variable "secrets_prefix" {
  type        = string
  description = "The tasks' execution role may read the Secrets Manager secrets and SSM parameters whose names start with this (in every region of the stack), for the action's `secrets`. Empty: none."
  default     = "ecs-loadtest/"
  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@-]*$", var.secrets_prefix))
    error_message = "secrets_prefix holds only letters, digits and /_+=.@- (a secret or parameter name's characters)."
  }
}

variable "flow_logs" {
  type        = bool
  description = "VPC flow logs of rejected traffic to CloudWatch Logs (billed per GB ingested)."
  default     = false
}

variable "results_table" {
  type        = bool
  description = "A DynamoDB table that keeps every run's results (the action's results-table): base-branch comparison, relative thresholds, `ecs-loadtest history`. On-demand billing: idle costs nothing but storage."
  default     = false
}

variable "price_list" {
  type        = bool
  description = "Let the CI role read the AWS Price List API (pricing:GetProducts, public prices only), so the cost estimate uses the region's current Fargate prices instead of the us-east-1 list prices the action keeps."
  default     = true
}
