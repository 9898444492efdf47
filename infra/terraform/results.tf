# The results table (results_table = true): one item per waited-for run, keyed by test and time,
# removed by DynamoDB's TTL when `expiresAt` passes (the action's results-ttl-days, default 90).
resource "aws_dynamodb_table" "results" {
  count                       = var.results_table ? 1 : 0
  name                        = "${var.name}-results"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "testId"
  range_key                   = "timestamp"
  deletion_protection_enabled = true

  attribute {
    name = "testId"
    type = "S"
  }
  attribute {
    name = "timestamp"
    type = "N"
  }
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn == "" ? null : var.kms_key_arn
  }
}
