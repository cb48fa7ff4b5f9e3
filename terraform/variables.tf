# Every input of the stack. Defaults match what AWS runs with in manga2video/local/asl.py
# (AWS_NUMBERS) and manga2video/config.py, so a plan with only worker_ami_id and
# source_base_url set is a working deployment.

# --- naming and placement ----------------------------------------------------------------
variable "aws_region" {
  description = "Region to deploy into; null takes it from AWS_REGION or the profile, as the AWS CLI does."
  type        = string
  default     = null

  validation {
    condition     = var.aws_region == null || can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like us-east-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name; Lambda functions are <name_prefix>-<lambdas folder with - for _>."
  type        = string
  default     = "manga2video"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name_prefix))
    error_message = "name_prefix must be 2-24 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags for every resource (added to Project and ManagedBy)."
  type        = map(string)
  default     = {}
}

variable "build_dir" {
  description = "Where `make package` writes lambdas/<folder>.zip and layer.zip; null means ../build next to this module."
  type        = string
  default     = null
}

# --- storage --------------------------------------------------------------------------------
variable "media_bucket_name" {
  description = "Name of the media bucket; null derives a globally unique one from name_prefix, account and region."
  type        = string
  default     = null

  validation {
    condition     = var.media_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.media_bucket_name))
    error_message = "media_bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }
}

variable "force_destroy_bucket" {
  description = "Let `terraform destroy` delete the media bucket with its objects; false keeps destroy from losing media."
  type        = bool
  default     = false
}

variable "jobs_expiry_days" {
  description = "Safety net: objects under jobs/ expire after this many days even if Cleanup never ran."
  type        = number
  default     = 7

  validation {
    condition     = var.jobs_expiry_days >= 1 && floor(var.jobs_expiry_days) == var.jobs_expiry_days
    error_message = "jobs_expiry_days must be a whole number of days, at least 1."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group (Lambda functions and the state machine)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' allowed values (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

# --- the day's loop ---------------------------------------------------------------------------
variable "daily_quota" {
  description = "Videos to publish per day; the schedule passes it in the execution input."
  type        = number
  default     = 3

  validation {
    condition     = var.daily_quota >= 1 && var.daily_quota <= 50 && floor(var.daily_quota) == var.daily_quota
    error_message = "daily_quota must be a whole number from 1 to 50 (YouTube's upload quota is far below 50 a day)."
  }
}

variable "max_attempts" {
  description = "Chapters one execution may try before it stops, even if every video fails."
  type        = number
  default     = 9

  validation {
    condition     = var.max_attempts >= 1 && floor(var.max_attempts) == var.max_attempts
    error_message = "max_attempts must be a whole number, at least 1."
  }
}

variable "schedule_expression" {
  description = "When the daily run starts, as an EventBridge Scheduler cron() or rate() expression."
  type        = string
  default     = "cron(0 18 * * ? *)"

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be cron(...) or rate(...)."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone the cron expression is read in."
  type        = string
  default     = "Asia/Ho_Chi_Minh"

  validation {
    condition     = can(regex("^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", var.schedule_timezone))
    error_message = "schedule_timezone must be an IANA zone name such as Asia/Ho_Chi_Minh or UTC."
  }
}

variable "schedule_enabled" {
  description = "Whether the daily schedule runs; false deploys everything but starts nothing."
  type        = bool
  default     = true
}

# --- timings of the state machine (ASL placeholders) ------------------------------------------
variable "lambda_retry_interval_seconds" {
  description = "First retry interval of a failed Lambda task (backoff 2.0)."
  type        = number
  default     = 60

  validation {
    condition     = var.lambda_retry_interval_seconds >= 1 && floor(var.lambda_retry_interval_seconds) == var.lambda_retry_interval_seconds
    error_message = "lambda_retry_interval_seconds must be a whole number of seconds, at least 1."
  }
}

variable "worker_retry_interval_seconds" {
  description = "First retry interval after a worker's heartbeat or task timeout (backoff 1.5)."
  type        = number
  default     = 60

  validation {
    condition     = var.worker_retry_interval_seconds >= 1 && floor(var.worker_retry_interval_seconds) == var.worker_retry_interval_seconds
    error_message = "worker_retry_interval_seconds must be a whole number of seconds, at least 1."
  }
}

variable "spot_retry_interval_seconds" {
  description = "Retry interval after a Spot interruption (a new instance resumes from the checkpoints)."
  type        = number
  default     = 5

  validation {
    condition     = var.spot_retry_interval_seconds >= 1 && floor(var.spot_retry_interval_seconds) == var.spot_retry_interval_seconds
    error_message = "spot_retry_interval_seconds must be a whole number of seconds, at least 1."
  }
}

variable "renderer_timeout_seconds" {
  description = "Longest a render may take (WaitForRender TimeoutSeconds)."
  type        = number
  default     = 14400

  validation {
    condition     = var.renderer_timeout_seconds >= 60 && var.renderer_timeout_seconds <= 86400 && floor(var.renderer_timeout_seconds) == var.renderer_timeout_seconds
    error_message = "renderer_timeout_seconds must be whole seconds from 60 to 86400."
  }
}

variable "renderer_heartbeat_seconds" {
  description = "Longest silence from the renderer before its task times out (HeartbeatSeconds)."
  type        = number
  default     = 300

  validation {
    condition     = var.renderer_heartbeat_seconds >= 10 && floor(var.renderer_heartbeat_seconds) == var.renderer_heartbeat_seconds
    error_message = "renderer_heartbeat_seconds must be whole seconds, at least 10."
  }
}

variable "uploader_timeout_seconds" {
  description = "Longest an upload may take (WaitForUpload TimeoutSeconds)."
  type        = number
  default     = 7200

  validation {
    condition     = var.uploader_timeout_seconds >= 60 && var.uploader_timeout_seconds <= 86400 && floor(var.uploader_timeout_seconds) == var.uploader_timeout_seconds
    error_message = "uploader_timeout_seconds must be whole seconds from 60 to 86400."
  }
}

variable "uploader_heartbeat_seconds" {
  description = "Longest silence from the uploader before its task times out (HeartbeatSeconds)."
  type        = number
  default     = 300

  validation {
    condition     = var.uploader_heartbeat_seconds >= 10 && floor(var.uploader_heartbeat_seconds) == var.uploader_heartbeat_seconds
    error_message = "uploader_heartbeat_seconds must be whole seconds, at least 10."
  }
}

variable "worker_heartbeat_seconds" {
  description = "How often a worker sends SendTaskHeartbeat; must stay well below both heartbeat timeouts."
  type        = number
  default     = 60

  validation {
    condition     = var.worker_heartbeat_seconds >= 5 && var.worker_heartbeat_seconds <= 120
    error_message = "worker_heartbeat_seconds must be from 5 to 120 (the heartbeat timeouts default to 300)."
  }
}

# --- Lambda functions -----------------------------------------------------------------------------
variable "lambda_defaults" {
  description = "Memory (MB), timeout (s) and /tmp size (MB) of every function without an entry in lambda_overrides."
  type = object({
    memory_mb       = number
    timeout_seconds = number
    tmp_mb          = number
  })
  default = { memory_mb = 512, timeout_seconds = 120, tmp_mb = 512 }

  validation {
    condition     = var.lambda_defaults.memory_mb >= 128 && var.lambda_defaults.memory_mb <= 10240 && var.lambda_defaults.timeout_seconds >= 3 && var.lambda_defaults.timeout_seconds <= 900 && var.lambda_defaults.tmp_mb >= 512 && var.lambda_defaults.tmp_mb <= 10240
    error_message = "memory_mb 128-10240, timeout_seconds 3-900, tmp_mb 512-10240."
  }
}

variable "lambda_overrides" {
  description = "Per lambdas/ folder: memory, timeout or /tmp that differ from lambda_defaults (pages, images and audio need more)."
  type = map(object({
    memory_mb       = optional(number)
    timeout_seconds = optional(number)
    tmp_mb          = optional(number)
  }))
  default = {
    fetch_manga          = { memory_mb = 1024, timeout_seconds = 900, tmp_mb = 2048 }
    prepare_script_input = { memory_mb = 1024, timeout_seconds = 300 }
    generate_script      = { memory_mb = 1024, timeout_seconds = 900 }
    generate_tts         = { memory_mb = 1024, timeout_seconds = 900, tmp_mb = 2048 }
    start_uploader       = { memory_mb = 1024, timeout_seconds = 300 }
    cleanup              = { timeout_seconds = 300 }
  }

  validation {
    condition = alltrue([for settings in values(var.lambda_overrides) : (
      (settings.memory_mb == null ? true : settings.memory_mb >= 128 && settings.memory_mb <= 10240) &&
      (settings.timeout_seconds == null ? true : settings.timeout_seconds >= 3 && settings.timeout_seconds <= 900) &&
      (settings.tmp_mb == null ? true : settings.tmp_mb >= 512 && settings.tmp_mb <= 10240)
    )])
    error_message = "Each override: memory_mb 128-10240, timeout_seconds 3-900, tmp_mb 512-10240."
  }
}

# --- pipeline settings (environment of the functions and workers) --------------------------------------
variable "source_base_url" {
  description = "Base URL of the NetTruyen mirror to read from (its domain changes: keep it here, not in code)."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/\\s]+", var.source_base_url))
    error_message = "source_base_url must be an http(s) URL."
  }
}

variable "source_fallback_urls" {
  description = "Other domains of the same site, tried in order when the base URL fails."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for url in var.source_fallback_urls : can(regex("^https?://[^/\\s,]+", url))])
    error_message = "Every fallback URL must be an http(s) URL without commas."
  }
}

variable "follow_list" {
  description = "Comic slugs to follow (empty: the site's newest updates)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for slug in var.follow_list : can(regex("^[^,\\s]+$", slug))])
    error_message = "Comic slugs contain no commas or spaces."
  }
}

variable "use_claude" {
  description = "Write scripts with Claude (the Anthropic key in SSM); false narrates every chapter offline, without a key."
  type        = bool
  default     = true
}

variable "youtube_privacy" {
  description = "Privacy status of uploaded videos."
  type        = string
  default     = "private"

  validation {
    condition     = contains(["private", "unlisted", "public"], var.youtube_privacy)
    error_message = "youtube_privacy must be private, unlisted or public."
  }
}

variable "extra_settings" {
  description = "Any other M2V_* setting of manga2video/config.py, given to every function and worker (e.g. M2V_TTS_VOICE)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.extra_settings) : can(regex("^M2V_[A-Z0-9_]+$", name))])
    error_message = "extra_settings keys are M2V_* names from manga2video/config.py."
  }
}

# --- Spot workers --------------------------------------------------------------------------------------
variable "worker_ami_id" {
  description = "AMI built by scripts/build_ami.sh (ffmpeg, fonts, espeak-ng, the workers package)."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.worker_ami_id))
    error_message = "worker_ami_id must be an AMI id such as ami-0123456789abcdef0."
  }
}

variable "renderer_instance_type" {
  description = "Instance type of the renderer (ffmpeg, CPU bound)."
  type        = string
  default     = "c6i.2xlarge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.renderer_instance_type))
    error_message = "renderer_instance_type must be an instance type such as c6i.2xlarge."
  }
}

variable "uploader_instance_type" {
  description = "Instance type of the uploader (network bound)."
  type        = string
  default     = "t3.small"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.uploader_instance_type))
    error_message = "uploader_instance_type must be an instance type such as t3.small."
  }
}

variable "spot_max_price" {
  description = "Highest Spot price per hour in USD; null caps it at the on-demand price."
  type        = string
  default     = null

  validation {
    condition     = var.spot_max_price == null || can(regex("^[0-9]+(\\.[0-9]+)?$", var.spot_max_price))
    error_message = "spot_max_price must be a decimal number such as 0.15."
  }
}

variable "worker_root_volume_gb" {
  description = "Size of each worker's encrypted root volume (pages, audio, segments and the video fit in 30 GB)."
  type        = number
  default     = 30

  validation {
    condition     = var.worker_root_volume_gb >= 8 && var.worker_root_volume_gb <= 1024
    error_message = "worker_root_volume_gb must be from 8 to 1024."
  }
}

variable "worker_root_device_name" {
  description = "Root device name of the worker AMI (/dev/xvda for Debian 12 and Amazon Linux 2023)."
  type        = string
  default     = "/dev/xvda"

  validation {
    condition     = can(regex("^/dev/[a-z0-9]+$", var.worker_root_device_name))
    error_message = "worker_root_device_name must be a device path such as /dev/xvda."
  }
}

variable "vpc_id" {
  description = "VPC of the workers' security group; null uses the default VPC."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_id == null || can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC id such as vpc-0123456789abcdef0."
  }
}

variable "worker_subnet_id" {
  description = "Subnet the workers start in (it needs a route to the internet); null uses the default VPC's default subnet."
  type        = string
  default     = null

  validation {
    condition     = var.worker_subnet_id == null || can(regex("^subnet-[0-9a-f]{8,17}$", var.worker_subnet_id))
    error_message = "worker_subnet_id must be a subnet id such as subnet-0123456789abcdef0."
  }
}

# --- alerts ------------------------------------------------------------------------------------------
variable "alert_email" {
  description = "E-mail address subscribed to the alerts topic; empty subscribes nobody."
  type        = string
  default     = ""

  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address or empty."
  }
}

variable "handle_error_alarm_threshold" {
  description = "Alarm when HandleError runs more often than this in a day."
  type        = number
  default     = 5

  validation {
    condition     = var.handle_error_alarm_threshold >= 0
    error_message = "handle_error_alarm_threshold must not be negative."
  }
}

variable "worker_retry_alarm_threshold" {
  description = "Alarm when the renderer or the uploader is retried (timeouts, Spot interruptions) more often than this in a day."
  type        = number
  default     = 2

  validation {
    condition     = var.worker_retry_alarm_threshold >= 0
    error_message = "worker_retry_alarm_threshold must not be negative."
  }
}
