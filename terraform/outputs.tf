output "state_machine_arn" {
  description = "Start a run by hand: aws stepfunctions start-execution --state-machine-arn <this> --input '{}'."
  value       = aws_sfn_state_machine.pipeline.arn
}

output "media_bucket" {
  description = "The media bucket (working files under jobs/, the Lambda layer under artifacts/)."
  value       = aws_s3_bucket.media.id
}

output "jobs_table" {
  description = "DynamoDB table of the jobs (one per chapter)."
  value       = aws_dynamodb_table.jobs.name
}

output "counters_table" {
  description = "DynamoDB table of the daily counters (one item per Pacific date)."
  value       = aws_dynamodb_table.counters.name
}

output "function_names" {
  description = "Lambda function name of each lambdas/ folder."
  value       = { for folder, function in aws_lambda_function.state : folder => function.function_name }
}

output "launch_templates" {
  description = "Launch template of each worker kind."
  value       = { for kind, template in aws_launch_template.worker : kind => template.name }
}

output "worker_security_group_id" {
  description = "Security group of the Spot workers (egress only)."
  value       = aws_security_group.worker.id
}

output "ssm_parameters" {
  description = "SecureString parameters to fill with aws ssm put-parameter --overwrite (docs/deploy.md)."
  value = {
    anthropic_api_key = aws_ssm_parameter.anthropic_api_key.name
    youtube_token     = aws_ssm_parameter.youtube_token.name
  }
}

output "alerts_topic_arn" {
  description = "SNS topic the alarms and HandleError publish to."
  value       = aws_sns_topic.alerts.arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "state_machine_log_group" {
  description = "Execution history log (level ALL)."
  value       = aws_cloudwatch_log_group.state_machine.name
}

output "kms_key_arn" {
  description = "Key that encrypts the bucket, tables, parameters, logs and alerts."
  value       = aws_kms_key.main.arn
}

output "workers_log_group" {
  description = "Log group the workers' CloudWatch agent ships /var/log/manga2video-<kind>.log to (stream: instance id)."
  value       = aws_cloudwatch_log_group.workers.name
}
