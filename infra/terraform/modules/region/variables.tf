# What one region's part is made from: the root's variables of the same names, the region, and
# the roles (IAM is global, so the root makes them once for every region).

variable "region" {
  type        = string
  description = "The region every resource of this part is made in."
}

variable "name" {
  type        = string
  description = "Prefix of every resource name."
}

variable "network_mode" {
  type        = string
  description = "public or private (see the root's variable)."
}

variable "private_egress" {
  type        = string
  description = "endpoints or nat, with network_mode private."
}

variable "vpc_cidr" {
  type        = string
  description = "The VPC's CIDR block (each region's VPC is its own: the same block in every region is fine)."
}

variable "keep_images" {
  type        = number
  description = "ECR keeps this many most recent images."
}

variable "kms_key_arn" {
  type        = string
  description = "A KMS key of this region for the repository and the log groups; empty: AWS-managed encryption."
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps the logs."
}

variable "container_insights" {
  type        = bool
  description = "Container Insights on the cluster."
}

variable "flow_logs" {
  type        = bool
  description = "VPC flow logs of rejected traffic."
}

variable "task_cpu" {
  type        = number
  description = "CPU units of the base task definition."
}

variable "task_memory" {
  type        = number
  description = "Memory (MiB) of the base task definition."
}

variable "execution_role_arn" {
  type        = string
  description = "The tasks' execution role."
}

variable "task_role_arn" {
  type        = string
  description = "The tasks' own role."
}

variable "flow_role_arn" {
  type        = string
  description = "The role flow logs write with; empty without flow_logs."
}
