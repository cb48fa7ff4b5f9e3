# Where each IAM action the code needs may act: the pipeline's own resources, never more.
# lambdas.tf and workers.tf list the actions; every action they list needs a scope here.

locals {
  # DynamoDB actions act only on the tables a role's code names (lambda_tables, worker_tables).
  table_arns = {
    jobs     = [aws_dynamodb_table.jobs.arn, "${aws_dynamodb_table.jobs.arn}/index/*"]
    counters = [aws_dynamodb_table.counters.arn]
  }
  worker_launch_template_arns = [for template in aws_launch_template.worker : template.arn]
  metrics_namespace           = "Manga2Video"

  # By service, for every action of that service without its own entry below.
  service_scopes = {
    dynamodb = { resources = flatten(values(local.table_arns)), conditions = [] }
    s3       = { resources = ["${aws_s3_bucket.media.arn}/jobs/*"], conditions = [] }
    kms      = { resources = [aws_kms_key.main.arn], conditions = [] }
    sns      = { resources = [aws_sns_topic.alerts.arn], conditions = [] }
    # Narrowed per role: the functions read the Anthropic key, the workers the YouTube token.
    ssm = { resources = [aws_ssm_parameter.anthropic_api_key.arn, aws_ssm_parameter.youtube_token.arn], conditions = [] }
    # SendTaskSuccess/Failure/Heartbeat, X-Ray and EC2 Describe* accept no resource ARN.
    states = { resources = ["*"], conditions = [] }
    xray   = { resources = ["*"], conditions = [] }
    ec2    = { resources = ["*"], conditions = [] }
    cloudwatch = {
      resources  = ["*"]
      conditions = [{ test = "StringEquals", variable = "cloudwatch:namespace", values = [local.metrics_namespace] }]
    }
  }

  action_overrides = {
    # On the bucket itself: listing a job's files, and 404 rather than 403 for a missing object.
    "s3:ListBucket" = { resources = [aws_s3_bucket.media.arn], conditions = [] }
    # Only instances described by our launch templates.
    "ec2:RunInstances" = {
      resources  = ["*"]
      conditions = [{ test = "ArnLike", variable = "ec2:LaunchTemplate", values = local.worker_launch_template_arns }]
    }
    "ec2:CreateTags" = {
      resources  = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:*/*"]
      conditions = [{ test = "StringEquals", variable = "ec2:CreateAction", values = ["RunInstances"] }]
    }
    "iam:PassRole" = {
      resources  = [aws_iam_role.worker.arn]
      conditions = [{ test = "StringEquals", variable = "iam:PassedToService", values = ["ec2.${local.dns_suffix}"] }]
    }
  }

  granted_actions = distinct(flatten([values(local.lambda_actions), local.lambda_runtime_actions, local.worker_actions]))
  action_scopes = {
    for action in local.granted_actions :
    action => lookup(local.action_overrides, action, lookup(local.service_scopes, split(":", action)[0], { resources = [], conditions = [] }))
  }
}
