# EC2 Spot workers: the renderer and the uploader. The launch Lambdas start one instance from
# these templates with the job id and task token in its user-data; the instance calls back
# with SendTaskHeartbeat/Success/Failure and terminates itself when done.

locals {
  worker_kinds = {
    renderer = var.renderer_instance_type
    uploader = var.uploader_instance_type
  }

  # The AWS calls the worker code makes and the tables it names (renderer and uploader share
  # the instance profile). tests/terraform derives both from workers/ and fails when they differ.
  # What the CloudWatch agent baked into the AMI needs to ship the workers' logs.
  worker_runtime_actions = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]

  worker_tables  = ["jobs"]
  worker_actions = ["cloudwatch:PutMetricData", "dynamodb:GetItem", "dynamodb:UpdateItem", "kms:Decrypt", "kms:GenerateDataKey", "s3:GetObject", "s3:ListBucket", "s3:PutObject", "ssm:GetParameter", "states:SendTaskFailure", "states:SendTaskHeartbeat", "states:SendTaskSuccess"]
}

data "aws_iam_policy_document" "worker_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.${local.dns_suffix}"]
    }
  }
}

resource "aws_iam_role" "worker" {
  name               = "${var.name_prefix}-worker"
  description        = "Spot renderer and uploader: jobs/* in the media bucket, the tables, task callbacks, their SSM parameters."
  assume_role_policy = data.aws_iam_policy_document.worker_assume.json
}

resource "aws_cloudwatch_log_group" "workers" {
  #checkov:skip=CKV_AWS_338:Operational logs of a daily batch; 30 days (log_retention_days) is enough and a year costs more.
  name              = "/${var.name_prefix}/workers"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "ShipTheWorkersLogs"
    actions   = local.worker_runtime_actions
    resources = ["${aws_cloudwatch_log_group.workers.arn}:*"]
  }

  dynamic "statement" {
    for_each = toset(local.worker_actions)
    content {
      sid     = replace(title(replace(statement.value, ":", " ")), " ", "")
      actions = [statement.value]
      # Of the secrets, the workers read only the YouTube token; of the tables, the jobs.
      resources = (
        startswith(statement.value, "ssm:") ? [aws_ssm_parameter.youtube_token.arn] :
        startswith(statement.value, "dynamodb:") ? flatten([for table in local.worker_tables : local.table_arns[table]]) :
        local.action_scopes[statement.value].resources
      )
      dynamic "condition" {
        for_each = local.action_scopes[statement.value].conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "calls-its-code-makes"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

resource "aws_iam_instance_profile" "worker" {
  name = "${var.name_prefix}-worker"
  role = aws_iam_role.worker.name
}

data "aws_vpc" "workers" {
  id      = var.vpc_id
  default = var.vpc_id == null ? true : null
}

resource "aws_security_group" "worker" {
  #checkov:skip=CKV2_AWS_5:Attached through the launch templates below, which checkov does not follow.
  name        = "${var.name_prefix}-worker"
  description = "Spot workers: no inbound traffic; HTTPS out to AWS APIs, YouTube and Google."
  vpc_id      = data.aws_vpc.workers.id

  egress {
    description = "HTTPS to AWS APIs, YouTube and Google OAuth"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_launch_template" "worker" {
  for_each    = local.worker_kinds
  name        = "${var.name_prefix}-${each.key}"
  description = "Spot ${each.key} of manga2video"

  image_id                             = var.worker_ami_id
  instance_type                        = each.value
  instance_initiated_shutdown_behavior = "terminate"
  ebs_optimized                        = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.worker.arn
  }

  instance_market_options {
    market_type = "spot"
    spot_options {
      spot_instance_type             = "one-time"
      instance_interruption_behavior = "terminate"
      max_price                      = var.spot_max_price
    }
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  block_device_mappings {
    device_name = var.worker_root_device_name
    ebs {
      volume_size           = var.worker_root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  dynamic "network_interfaces" {
    for_each = var.worker_subnet_id == null ? [] : [var.worker_subnet_id]
    content {
      subnet_id       = network_interfaces.value
      security_groups = [aws_security_group.worker.id]
    }
  }
  vpc_security_group_ids = var.worker_subnet_id == null ? [aws_security_group.worker.id] : null

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name_prefix}-${each.key}", Role = each.key }
  }
  tag_specifications {
    resource_type = "volume"
    tags          = { Name = "${var.name_prefix}-${each.key}", Role = each.key }
  }
}
