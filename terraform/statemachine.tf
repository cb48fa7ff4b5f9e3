# The state machine: statemachine/pipeline.asl.json rendered by templatefile(), so the ASL
# you read in the repository is the one deployed.

locals {
  # Every ${placeholder} of the ASL file, and nothing else (tests/terraform checks both ways).
  asl_variables = merge(
    { for folder, arn in local.function_arns : "${folder}_function_arn" => arn },
    {
      lambda_retry_interval_seconds = var.lambda_retry_interval_seconds
      worker_retry_interval_seconds = var.worker_retry_interval_seconds
      spot_retry_interval_seconds   = var.spot_retry_interval_seconds
      renderer_timeout_seconds      = var.renderer_timeout_seconds
      renderer_heartbeat_seconds    = var.renderer_heartbeat_seconds
      uploader_timeout_seconds      = var.uploader_timeout_seconds
      uploader_heartbeat_seconds    = var.uploader_heartbeat_seconds
    },
  )

  # Placeholders sit inside quotes so the raw file is valid JSON; a string that is now only a
  # number becomes a JSON number (the same regex as manga2video/local/asl.py NUMERIC_STRING).
  state_machine_definition = replace(
    templatefile("${path.module}/../statemachine/pipeline.asl.json", local.asl_variables),
    "/\"(-?[0-9]+(?:\\.[0-9]+)?)\"/",
    "$1",
  )
}

resource "aws_cloudwatch_log_group" "state_machine" {
  #checkov:skip=CKV_AWS_338:Operational logs of a daily batch; 30 days (log_retention_days) is enough and a year costs more.
  name              = "/aws/vendedlogs/states/${var.name_prefix}-pipeline"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.${local.dns_suffix}"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${var.name_prefix}-state-machine"
  description        = "The pipeline state machine: invoke its own functions, write its logs and traces."
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
}

data "aws_iam_policy_document" "state_machine" {
  statement {
    sid       = "InvokeThePipelineFunctions"
    actions   = ["lambda:InvokeFunction"]
    resources = values(local.function_arns)
  }

  statement {
    sid = "DeliverExecutionLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }

  statement {
    sid       = "UseTheKeyForItsEncryptedLogs"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "invoke-its-functions"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

resource "aws_sfn_state_machine" "pipeline" {
  name       = "${var.name_prefix}-pipeline"
  type       = "STANDARD"
  role_arn   = aws_iam_role.state_machine.arn
  definition = local.state_machine_definition

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.state_machine]
}
