#!/usr/bin/env bash
# Build the Spot workers' AMI from a stock Debian 12 image, with the AWS CLI only (no Packer).
#
#   scripts/build_ami.sh [--region R] [--base-ami ami-...] [--instance-type T] [--subnet-id subnet-...]
#
# 1. packs manga2video/, workers/ and requirements.txt into a tarball in a temporary bucket
#    (the builder downloads it through a presigned URL, so it needs no instance role);
# 2. starts a builder instance whose user-data installs ffmpeg, DejaVu fonts, espeak-ng and a
#    Python venv with requirements.txt minus its "local-only" lines into /opt/manga2video
#    (where manga2video/launch.py's user-data expects it) and the CloudWatch agent (the
#    workers' logs to the /<name_prefix>/workers log group), checks that both workers import,
#    and powers off;
# 3. images the stopped instance, then terminates it and deletes the temporary bucket.
# The last line printed is the AMI id: put it in terraform.tfvars as worker_ami_id.
#
# Debian rather than Amazon Linux 2023: ffmpeg and espeak-ng are in Debian's main archive.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
REGION="${AWS_REGION:-$(aws configure get region 2>/dev/null || true)}"
BASE_AMI=""
INSTANCE_TYPE="c6i.large"
SUBNET_ID=""
NAME_PREFIX="manga2video"
WORKER_HOME="/opt/manga2video"

usage() { sed -n '2,17p' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --region) REGION="$2"; shift 2 ;;
    --base-ami) BASE_AMI="$2"; shift 2 ;;
    --instance-type) INSTANCE_TYPE="$2"; shift 2 ;;
    --subnet-id) SUBNET_ID="$2"; shift 2 ;;
    --name-prefix) NAME_PREFIX="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
done
[ -n "$REGION" ] || { echo "no region: pass --region or set AWS_REGION" >&2; exit 2; }
export AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"
log() { echo "[build_ami] $*" >&2; }

if [ -z "$BASE_AMI" ]; then
  # Debian publishes its current images as public SSM parameters.
  BASE_AMI="$(aws ssm get-parameter --name /aws/service/debian/release/12/latest/amd64 --query Parameter.Value --output text)"
fi
log "base image $BASE_AMI in $REGION"

WORK="$(mktemp -d)"
ACCOUNT="$(aws sts get-caller-identity --query Account --output text)"
BUCKET="${NAME_PREFIX}-ami-build-${ACCOUNT}-$(date +%s)"
INSTANCE_ID=""
cleanup() {
  if [ -n "$INSTANCE_ID" ]; then
    aws ec2 terminate-instances --instance-ids "$INSTANCE_ID" >/dev/null || true
  fi
  aws s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- 1. the sources ---------------------------------------------------------------------------------
grep -v 'local-only' "$ROOT/requirements.txt" > "$WORK/requirements-runtime.txt"
tar -C "$ROOT" --exclude='__pycache__' --exclude='*.pyc' --exclude='manga2video/local' \
  -czf "$WORK/source.tar.gz" manga2video workers
tar -C "$WORK" -czf "$WORK/bundle.tar.gz" source.tar.gz requirements-runtime.txt
if [ "$REGION" = "us-east-1" ]; then
  aws s3api create-bucket --bucket "$BUCKET" >/dev/null
else
  aws s3api create-bucket --bucket "$BUCKET" --create-bucket-configuration "LocationConstraint=$REGION" >/dev/null
fi
aws s3api put-public-access-block --bucket "$BUCKET" \
  --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
aws s3 cp "$WORK/bundle.tar.gz" "s3://$BUCKET/bundle.tar.gz" >/dev/null
URL="$(aws s3 presign "s3://$BUCKET/bundle.tar.gz" --expires-in 7200)"

# --- 2. the builder ------------------------------------------------------------------------------------
cat > "$WORK/user-data.sh" <<EOF
#!/bin/bash
set -euxo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core espeak-ng python3 python3-venv ca-certificates curl
mkdir -p $WORKER_HOME /tmp/bundle
curl -fsSL '$URL' | tar -xz -C /tmp/bundle
tar -xzf /tmp/bundle/source.tar.gz -C $WORKER_HOME
python3 -m venv $WORKER_HOME/.venv
$WORKER_HOME/.venv/bin/pip install --quiet --upgrade pip
$WORKER_HOME/.venv/bin/pip install --quiet -r /tmp/bundle/requirements-runtime.txt
cd $WORKER_HOME && .venv/bin/python -c 'import workers.renderer.main, workers.uploader.main'
# CloudWatch agent: ships /var/log/manga2video-<kind>.log to Terraform's /<name_prefix>/workers log group
curl -fsSL -o /tmp/cwagent.deb https://amazoncloudwatch-agent.s3.amazonaws.com/debian/amd64/latest/amazon-cloudwatch-agent.deb
dpkg -i -E /tmp/cwagent.deb && rm /tmp/cwagent.deb
cat > /opt/aws/amazon-cloudwatch-agent/etc/manga2video.json <<'JSON'
{"logs": {"logs_collected": {"files": {"collect_list": [
  {"file_path": "/var/log/manga2video-*.log", "log_group_name": "/$NAME_PREFIX/workers", "log_stream_name": "{instance_id}"}
]}}}}
JSON
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -c file:/opt/aws/amazon-cloudwatch-agent/etc/manga2video.json
systemctl enable amazon-cloudwatch-agent
ffmpeg -hide_banner -version | head -1
rm -rf /tmp/bundle
cloud-init clean --logs || true
echo M2V-AMI-READY > /dev/console
poweroff
EOF
NETWORK=()
[ -n "$SUBNET_ID" ] && NETWORK=(--subnet-id "$SUBNET_ID")
INSTANCE_ID="$(aws ec2 run-instances \
  --image-id "$BASE_AMI" --instance-type "$INSTANCE_TYPE" "${NETWORK[@]}" \
  --user-data "file://$WORK/user-data.sh" \
  --instance-initiated-shutdown-behavior stop \
  --metadata-options HttpTokens=required,HttpEndpoint=enabled \
  --block-device-mappings 'DeviceName=/dev/xvda,Ebs={VolumeSize=8,VolumeType=gp3,Encrypted=true,DeleteOnTermination=true}' \
  --tag-specifications "ResourceType=instance,Tags=[{Key=Name,Value=${NAME_PREFIX}-ami-builder}]" \
  --query 'Instances[0].InstanceId' --output text)"
log "builder $INSTANCE_ID is installing (about 5-10 minutes)"
for _ in $(seq 1 8); do
  aws ec2 wait instance-stopped --instance-ids "$INSTANCE_ID" 2>/dev/null && break
done
STATE="$(aws ec2 describe-instances --instance-ids "$INSTANCE_ID" --query 'Reservations[0].Instances[0].State.Name' --output text)"
[ "$STATE" = "stopped" ] || { log "builder is $STATE, not stopped: see its console output"; exit 1; }
if ! aws ec2 get-console-output --instance-id "$INSTANCE_ID" --latest --output text | grep -q M2V-AMI-READY; then
  log "the builder stopped without finishing; its console output:"
  aws ec2 get-console-output --instance-id "$INSTANCE_ID" --latest --output text | tail -40 >&2
  exit 1
fi

# --- 3. the image -----------------------------------------------------------------------------------
VERSION="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unversioned)"
AMI_ID="$(aws ec2 create-image --instance-id "$INSTANCE_ID" \
  --name "${NAME_PREFIX}-worker-$(date -u +%Y%m%d-%H%M%S)-${VERSION}" \
  --description "manga2video Spot worker: ffmpeg, DejaVu fonts, espeak-ng, workers at ${VERSION}" \
  --tag-specifications "ResourceType=image,Tags=[{Key=Name,Value=${NAME_PREFIX}-worker},{Key=Source,Value=${VERSION}}]" \
  --query ImageId --output text)"
log "imaging $AMI_ID"
for _ in $(seq 1 6); do
  aws ec2 wait image-available --image-ids "$AMI_ID" 2>/dev/null && break
done
echo "$AMI_ID"
