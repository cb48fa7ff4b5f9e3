# One function per lambdas/<folder>, each with its own role, log group and environment.
# Function ARNs are built from names (not read from the functions), so the state machine
# and the functions form no dependency cycle.

locals {
  build_dir      = coalesce(var.build_dir, "${path.module}/../build")
  lambda_folders = toset([for handler in fileset("${path.module}/../lambdas", "*/handler.py") : dirname(handler)])

  function_names = { for folder in local.lambda_folders : folder => "${var.name_prefix}-${replace(folder, "_", "-")}" }
  function_arns = {
    for folder, name in local.function_names :
    folder => "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${name}"
  }

  lambda_settings = {
    for folder in local.lambda_folders : folder => {
      memory_mb       = coalesce(try(var.lambda_overrides[folder].memory_mb, null), var.lambda_defaults.memory_mb)
      timeout_seconds = coalesce(try(var.lambda_overrides[folder].timeout_seconds, null), var.lambda_defaults.timeout_seconds)
      tmp_mb          = coalesce(try(var.lambda_overrides[folder].tmp_mb, null), var.lambda_defaults.tmp_mb)
    }
  }

  # The AWS calls each function's code makes, as IAM actions. tests/terraform derives these
  # from the code (python -m tests.terraform.code_calls prints them) and fails when they differ.
  lambda_actions = {
    check_quota          = ["dynamodb:GetItem"]
    cleanup              = ["dynamodb:GetItem", "dynamodb:UpdateItem", "s3:DeleteObject", "s3:ListBucket"]
    fetch_manga          = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "kms:Decrypt", "kms:GenerateDataKey", "s3:DeleteObject", "s3:ListBucket", "s3:PutObject"]
    generate_script      = ["dynamodb:GetItem", "dynamodb:UpdateItem", "kms:Decrypt", "kms:GenerateDataKey", "s3:GetObject", "s3:ListBucket", "s3:PutObject", "ssm:GetParameter"]
    generate_tts         = ["dynamodb:GetItem", "dynamodb:UpdateItem", "kms:Decrypt", "kms:GenerateDataKey", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]
    handle_error         = ["dynamodb:GetItem", "dynamodb:UpdateItem", "kms:Decrypt", "kms:GenerateDataKey", "sns:Publish"]
    increment_counter    = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    prepare_script_input = ["dynamodb:GetItem", "dynamodb:Query", "kms:Decrypt", "kms:GenerateDataKey", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]
    start_renderer       = ["dynamodb:GetItem", "kms:Decrypt", "kms:GenerateDataKey", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]
    start_uploader       = ["dynamodb:GetItem", "kms:Decrypt", "kms:GenerateDataKey", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]
    wait_for_render      = ["dynamodb:UpdateItem", "ec2:CreateTags", "ec2:RunInstances", "iam:PassRole"]
    wait_for_upload      = ["dynamodb:UpdateItem", "ec2:CreateTags", "ec2:RunInstances", "iam:PassRole"]
  }

  # The tables each function's code names (its DynamoDB actions act on these only).
  lambda_tables = {
    check_quota          = ["counters"]
    cleanup              = ["jobs"]
    fetch_manga          = ["jobs"]
    generate_script      = ["jobs"]
    generate_tts         = ["jobs"]
    handle_error         = ["jobs"]
    increment_counter    = ["counters", "jobs"]
    prepare_script_input = ["jobs"]
    start_renderer       = ["jobs"]
    start_uploader       = ["jobs"]
    wait_for_render      = ["jobs"]
    wait_for_upload      = ["jobs"]
  }

  # What the Lambda service itself needs for every function: its log stream, X-Ray
  # segments, and the key that encrypts its environment.
  lambda_runtime_actions = ["kms:Decrypt", "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments"]

  # The environment every function gets: names from manga2video/config.py.
  pipeline_environment = { for name, value in merge(
    {
      M2V_JOBS_TABLE                  = aws_dynamodb_table.jobs.name
      M2V_COUNTERS_TABLE              = aws_dynamodb_table.counters.name
      M2V_MEDIA_BUCKET                = aws_s3_bucket.media.id
      M2V_ALERT_TOPIC_ARN             = aws_sns_topic.alerts.arn
      M2V_DAILY_QUOTA                 = tostring(var.daily_quota)
      M2V_MAX_ATTEMPTS                = tostring(var.max_attempts)
      M2V_SOURCE_BASE_URL             = var.source_base_url
      M2V_SOURCE_FALLBACK_URLS        = join(",", var.source_fallback_urls)
      M2V_FOLLOW_LIST                 = join(",", var.follow_list)
      M2V_ANTHROPIC_SSM_PARAMETER     = var.use_claude ? aws_ssm_parameter.anthropic_api_key.name : ""
      M2V_YOUTUBE_TOKEN_SSM_PARAMETER = aws_ssm_parameter.youtube_token.name
      M2V_YOUTUBE_PRIVACY             = var.youtube_privacy
      M2V_LAUNCH_BACKEND              = "ec2"
      M2V_RENDERER_LAUNCH_TEMPLATE    = aws_launch_template.worker["renderer"].name
      M2V_UPLOADER_LAUNCH_TEMPLATE    = aws_launch_template.worker["uploader"].name
      M2V_WORKER_HEARTBEAT_SECONDS    = tostring(var.worker_heartbeat_seconds)
      POWERTOOLS_SERVICE_NAME         = "manga2video"
      POWERTOOLS_METRICS_NAMESPACE    = local.metrics_namespace
    },
    var.extra_settings,
  ) : name => value if value != "" }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.${local.dns_suffix}"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "lambda" {
  for_each           = local.lambda_folders
  name               = "${local.function_names[each.key]}-lambda"
  description        = "Runs ${local.function_names[each.key]}: only the calls its code makes."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "lambda" {
  for_each = local.lambda_folders

  # One statement per action, scoped by local.action_scopes (iam.tf); logs go to the function's
  # own log group, DynamoDB to the tables its code names, and of the two secrets the functions
  # read only the Anthropic key.
  dynamic "statement" {
    for_each = toset(concat(local.lambda_actions[each.key], local.lambda_runtime_actions))
    content {
      sid     = replace(title(replace(statement.value, ":", " ")), " ", "")
      actions = [statement.value]
      resources = (
        startswith(statement.value, "logs:") ? ["${aws_cloudwatch_log_group.lambda[each.key].arn}:*"] :
        startswith(statement.value, "ssm:") ? [aws_ssm_parameter.anthropic_api_key.arn] :
        startswith(statement.value, "dynamodb:") ? flatten([for table in local.lambda_tables[each.key] : local.table_arns[table]]) :
        local.action_scopes[statement.value].resources
      )
      dynamic "condition" {
        for_each = startswith(statement.value, "logs:") ? [] : local.action_scopes[statement.value].conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  for_each = local.lambda_folders
  name     = "calls-its-code-makes"
  role     = aws_iam_role.lambda[each.key].id
  policy   = data.aws_iam_policy_document.lambda[each.key].json
}

resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_338:Operational logs of a daily batch; 30 days (log_retention_days) is enough and a year costs more.
  for_each          = local.lambda_folders
  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# Python dependencies (requirements.txt without the local-only lines); big, so it goes
# through S3 rather than the 50 MB direct upload.
resource "aws_s3_object" "layer" {
  bucket      = aws_s3_bucket.media.id
  key         = "${local.artifacts_prefix}layer-${filemd5("${local.build_dir}/layer.zip")}.zip"
  source      = "${local.build_dir}/layer.zip"
  source_hash = filemd5("${local.build_dir}/layer.zip")
  depends_on  = [aws_s3_bucket_server_side_encryption_configuration.media]
}

resource "aws_lambda_layer_version" "dependencies" {
  layer_name          = "${var.name_prefix}-dependencies"
  description         = "requirements.txt without the local-only lines"
  s3_bucket           = aws_s3_object.layer.bucket
  s3_key              = aws_s3_object.layer.key
  source_code_hash    = filebase64sha256("${local.build_dir}/layer.zip")
  compatible_runtimes = ["python3.12"]
}

resource "aws_lambda_function" "state" {
  #checkov:skip=CKV_AWS_117:The functions reach NetTruyen, Anthropic and edge-tts on the internet; a VPC would need a NAT gateway (~32 USD/month) for no gain.
  #checkov:skip=CKV_AWS_116:Step Functions invokes every function synchronously and retries/catches failures itself; a DLQ only applies to asynchronous invokes.
  #checkov:skip=CKV_AWS_115:One execution runs one task at a time; reserving concurrency fails outright on new accounts (limit 10) and protects nothing here.
  #checkov:skip=CKV_AWS_272:The zips are built reproducibly by `make package` from this repository; code signing needs an AWS Signer profile the project doesn't manage.
  for_each      = local.lambda_folders
  function_name = local.function_names[each.key]
  description   = "Step ${each.key} of the manga2video state machine"
  role          = aws_iam_role.lambda[each.key].arn
  runtime       = "python3.12"
  handler       = "handler.handler"
  architectures = ["x86_64"]

  filename         = "${local.build_dir}/lambdas/${each.key}.zip"
  source_code_hash = filebase64sha256("${local.build_dir}/lambdas/${each.key}.zip")
  layers           = [aws_lambda_layer_version.dependencies.arn]

  memory_size = local.lambda_settings[each.key].memory_mb
  timeout     = local.lambda_settings[each.key].timeout_seconds
  ephemeral_storage {
    size = local.lambda_settings[each.key].tmp_mb
  }

  kms_key_arn = aws_kms_key.main.arn
  environment {
    variables = local.pipeline_environment
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]
}
