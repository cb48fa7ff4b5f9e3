# The Anthropic API key and the YouTube OAuth token. Terraform creates the parameters with a
# placeholder and never reads or writes their values again; set the real values with
#   aws ssm put-parameter --name <name> --type SecureString --overwrite --value file://secret.txt
# (docs/deploy.md, "Secrets"). The code reads them at run time.

resource "aws_ssm_parameter" "anthropic_api_key" {
  name        = "/${var.name_prefix}/anthropic-api-key"
  description = "Anthropic API key for GenerateScript. Set it before the first run: the placeholder is no key (or set use_claude = false)."
  type        = "SecureString"
  key_id      = aws_kms_key.main.arn
  value       = "placeholder: set with aws ssm put-parameter --overwrite"

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_ssm_parameter" "youtube_token" {
  name        = "/${var.name_prefix}/youtube-token"
  description = "YouTube OAuth authorized-user JSON (client_id, client_secret, refresh_token) for the uploader."
  type        = "SecureString"
  tier        = "Standard"
  key_id      = aws_kms_key.main.arn
  value       = "placeholder: set with aws ssm put-parameter --overwrite"

  lifecycle {
    ignore_changes = [value]
  }
}
