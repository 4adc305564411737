#!/usr/bin/env bash
# One SeaweedFS server (master, volume, filer, S3 on :8333) with one identity from
# S3_ACCESS_KEY/S3_SECRET_KEY, and the buckets named in S3_BUCKETS (comma-separated).
set -euo pipefail
: "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}"
rm -f /tmp/ready  # from before a restart of the container
mkdir -p /data /etc/seaweedfs
umask 077
cat >/etc/seaweedfs/s3.json <<JSON
{"identities": [{"name": "lab", "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
                 "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
# Internal traffic on loopback; only S3 listens on every address.
weed server -s3 -dir=/data -ip=127.0.0.1 -ip.bind=0.0.0.0 -s3.port=8333 \
    -s3.config=/etc/seaweedfs/s3.json -volume.max=0 -master.volumeSizeLimitMB=256 \
    -s3.port.iceberg=0 -s3.port.lance=0 &
weed_pid=$!
trap 'kill -TERM "$weed_pid" 2>/dev/null; wait "$weed_pid"' TERM INT
# The S3 port answers before the filer can store buckets: retry until they exist.
IFS=, read -r -a buckets <<<"${S3_BUCKETS:-}"
for bucket in "${buckets[@]}"; do
    for _ in $(seq 120); do
        echo "s3.bucket.create -name $bucket" | weed shell -master=127.0.0.1:9333 >/tmp/bucket.log 2>&1 \
            && ! grep -qi error /tmp/bucket.log && break
        grep -qi "already exist" /tmp/bucket.log && break
        sleep 1
    done
done
touch /tmp/ready
wait "$weed_pid"
