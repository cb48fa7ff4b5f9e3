# Alarms to an encrypted SNS topic (optional e-mail subscription) and one dashboard.
# Custom metrics come from aws-lambda-powertools (namespace Manga2Video, dimension
# service=manga2video): VideosPublished and CostPerVideoUSD (IncrementCounter), StateErrors
# by state (HandleError), YouTubeQuotaErrors (the uploader).

locals {
  service_dimension = { service = "manga2video" }
  state_machine_dim = { StateMachineArn = aws_sfn_state_machine.pipeline.arn }
  day_seconds       = 86400

  # Worker retries = attempts (TaskScheduled with the worker's kind) minus exits of its state,
  # counted from the state machine's own log (level ALL): timeouts and Spot interruptions.
  worker_states = {
    renderer = "WaitForRender"
    uploader = "WaitForUpload"
  }
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name_prefix}-alerts"
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# --- alarms -----------------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "executions_failed" {
  alarm_name          = "${var.name_prefix}-executions-failed"
  alarm_description   = "A pipeline execution failed (a state outside every Catch, or HandleError itself)."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = local.state_machine_dim
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "executions_timed_out" {
  alarm_name          = "${var.name_prefix}-executions-timed-out"
  alarm_description   = "A pipeline execution timed out."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsTimedOut"
  dimensions          = local.state_machine_dim
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_log_metric_filter" "worker_attempts" {
  for_each       = local.worker_states
  name           = "${var.name_prefix}-${each.key}-attempts"
  log_group_name = aws_cloudwatch_log_group.state_machine.name
  pattern        = "{ ($.type = \"TaskScheduled\") && ($.details.parameters = \"*\\\"kind\\\":\\\"${each.key}\\\"*\") }"

  metric_transformation {
    name          = "${title(each.key)}Attempts"
    namespace     = local.metrics_namespace
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_log_metric_filter" "worker_exits" {
  for_each       = local.worker_states
  name           = "${var.name_prefix}-${each.key}-exits"
  log_group_name = aws_cloudwatch_log_group.state_machine.name
  pattern        = "{ ($.type = \"TaskStateExited\") && ($.details.name = \"${each.value}\") }"

  metric_transformation {
    name          = "${title(each.key)}Exits"
    namespace     = local.metrics_namespace
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_log_metric_filter" "task_timeouts" {
  name           = "${var.name_prefix}-task-timeouts"
  log_group_name = aws_cloudwatch_log_group.state_machine.name
  pattern        = "{ $.type = \"TaskTimedOut\" }"

  metric_transformation {
    name          = "WorkerTaskTimeouts"
    namespace     = local.metrics_namespace
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "worker_retries" {
  for_each            = local.worker_states
  alarm_name          = "${var.name_prefix}-${each.key}-retries"
  alarm_description   = "${each.value} was retried (heartbeat/task timeout or Spot interruption) more than ${var.worker_retry_alarm_threshold} times in a day."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.worker_retry_alarm_threshold
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = "retries"
    expression  = "attempts - exits"
    label       = "${each.value} retries"
    return_data = true
  }
  metric_query {
    id = "attempts"
    metric {
      namespace   = local.metrics_namespace
      metric_name = aws_cloudwatch_log_metric_filter.worker_attempts[each.key].metric_transformation[0].name
      period      = local.day_seconds
      stat        = "Sum"
    }
  }
  metric_query {
    id = "exits"
    metric {
      namespace   = local.metrics_namespace
      metric_name = aws_cloudwatch_log_metric_filter.worker_exits[each.key].metric_transformation[0].name
      period      = local.day_seconds
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "youtube_quota" {
  alarm_name          = "${var.name_prefix}-youtube-quota"
  alarm_description   = "YouTube refused an upload for quota; the video waits as upload_deferred for tomorrow."
  namespace           = local.metrics_namespace
  metric_name         = "YouTubeQuotaErrors"
  dimensions          = local.service_dimension
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "handle_error" {
  alarm_name          = "${var.name_prefix}-many-failed-videos"
  alarm_description   = "HandleError ran more than ${var.handle_error_alarm_threshold} times in a day: many videos failed."
  namespace           = "AWS/Lambda"
  metric_name         = "Invocations"
  dimensions          = { FunctionName = local.function_names["handle_error"] }
  statistic           = "Sum"
  period              = local.day_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.handle_error_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

# --- dashboard ---------------------------------------------------------------------------------------
resource "aws_cloudwatch_dashboard" "pipeline" {
  dashboard_name = "${var.name_prefix}-pipeline"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "Duration by state (Lambda states: average ms)"
          region  = local.region
          view    = "timeSeries"
          stat    = "Average"
          period  = local.day_seconds
          metrics = [for folder, name in local.function_names : ["AWS/Lambda", "Duration", "FunctionName", name, { label = folder }]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "Execution time and worker waits (ms)"
          region = local.region
          view   = "timeSeries"
          stat   = "Average"
          period = local.day_seconds
          metrics = [
            ["AWS/States", "ExecutionTime", "StateMachineArn", aws_sfn_state_machine.pipeline.arn, { label = "whole execution" }],
            ["AWS/Lambda", "Duration", "FunctionName", local.function_names["wait_for_render"], { label = "launch renderer" }],
            ["AWS/Lambda", "Duration", "FunctionName", local.function_names["wait_for_upload"], { label = "launch uploader" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 8, height = 6
        properties = {
          title  = "Success rate (%)"
          region = local.region
          view   = "timeSeries"
          period = local.day_seconds
          metrics = [
            [{ expression = "100 * succeeded / MAX([started, 1])", label = "succeeded / started", id = "rate" }],
            ["AWS/States", "ExecutionsSucceeded", "StateMachineArn", aws_sfn_state_machine.pipeline.arn, { id = "succeeded", stat = "Sum", visible = false }],
            ["AWS/States", "ExecutionsStarted", "StateMachineArn", aws_sfn_state_machine.pipeline.arn, { id = "started", stat = "Sum", visible = false }],
          ]
          yAxis = { left = { min = 0, max = 100 } }
        }
      },
      {
        type = "metric", x = 8, y = 6, width = 8, height = 6
        properties = {
          title       = "Videos published per day vs quota"
          region      = local.region
          view        = "timeSeries"
          stat        = "Sum"
          period      = local.day_seconds
          metrics     = [[local.metrics_namespace, "VideosPublished", "service", local.service_dimension.service, { label = "published" }]]
          annotations = { horizontal = [{ label = "daily_quota", value = var.daily_quota }] }
          yAxis       = { left = { min = 0 } }
        }
      },
      {
        type = "metric", x = 16, y = 6, width = 8, height = 6
        properties = {
          title   = "Cost per video (USD)"
          region  = local.region
          view    = "timeSeries"
          stat    = "Average"
          period  = local.day_seconds
          metrics = [[local.metrics_namespace, "CostPerVideoUSD", "service", local.service_dimension.service, { label = "average per video" }]]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 24, height = 6
        properties = {
          title  = "Errors by state, worker retries and YouTube quota errors"
          region = local.region
          view   = "timeSeries"
          stat   = "Sum"
          period = local.day_seconds
          metrics = [
            [{ expression = "SEARCH('{${local.metrics_namespace},service,state} MetricName=\"StateErrors\"', 'Sum', ${local.day_seconds})", id = "errors", label = "" }],
            [local.metrics_namespace, "YouTubeQuotaErrors", "service", local.service_dimension.service, { label = "YouTube quota" }],
            [local.metrics_namespace, "WorkerTaskTimeouts", { label = "worker timeouts" }],
          ]
        }
      },
    ]
  })
}
