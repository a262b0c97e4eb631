#!/usr/bin/env bash
# A real S3-compatible server for tidemark's tests: Ceph radosgw on 127.0.0.1 backed by a
# single-node cluster (one monitor, one in-memory "memstore" OSD, auth off, no manager).
#
#   scripts/radosgw.sh start DATA_DIR [PORT]   installs ceph-mon/ceph-osd/ceph-common/radosgw from
#                                               Debian when missing (root or sudo), starts the daemons,
#                                               creates the S3 user, waits until radosgw answers.
#   scripts/radosgw.sh stop DATA_DIR           stops the daemons it started (by PID file) and
#                                               removes DATA_DIR.
#
# Keys: $S3_ACCESS_KEY / $S3_SECRET_KEY (default testkey / testsecret). Everything listens on
# loopback only. Measured here: about 12 s to start, about 190 MiB RSS.
set -euo pipefail
cmd=${1:?usage: radosgw.sh start|stop DATA_DIR [PORT]}
D=$(realpath -m "${2:?data dir}")

stop() {
  for n in client.rgw.a osd.0 mon.a; do
    f="$D/$n.pid"; [ -f "$f" ] || continue; p=$(cat "$f")
    kill "$p" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p" || true
  done
  rm -rf "$D"
}

install_if_missing() {
  command -v radosgw >/dev/null 2>&1 && command -v ceph-mon >/dev/null 2>&1 \
    && command -v ceph-osd >/dev/null 2>&1 && command -v radosgw-admin >/dev/null 2>&1 && return 0
  local sudo=""
  if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 || { echo "radosgw.sh: Ceph is not installed and this user cannot install it (not root, no sudo)" >&2; exit 2; }
    sudo="sudo -n"
  fi
  echo "radosgw.sh: installing ceph-mon ceph-osd ceph-common radosgw from Debian" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    ceph-mon ceph-osd ceph-common radosgw >/dev/null
}

start() {
  local PORT=${3:-7480}
  local AK=${S3_ACCESS_KEY:-testkey} SK=${S3_SECRET_KEY:-testsecret}
  # Monitor ports derive from the S3 port so several servers can run side by side.
  local MON2=$((PORT + 100)) MON1=$((PORT + 101))
  install_if_missing
  stop
  mkdir -p "$D"/{mon.a,osd.0,rgw,run,log}
  local FSID; FSID=$(cat /proc/sys/kernel/random/uuid)
  cat > "$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]
public_network = 127.0.0.0/8
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = $D/run
log_file = $D/log/\$name.log
pid_file = $D/\$name.pid
admin_socket = $D/run/\$name.asok
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
osd_crush_chooseleaf_type = 0
ms_bind_ipv6 = false
# With auth off msgr2 cannot do "secure" mode, and radosgw defaults to secure-only: use crc.
ms_mon_client_mode = crc
ms_client_mode = crc
ms_mon_cluster_mode = crc
ms_mon_service_mode = crc
ms_cluster_mode = crc
ms_service_mode = crc
[mon]
mon_data = $D/mon.a
mon_cluster_log_file = $D/log/cluster.log
[osd]
osd_data = $D/osd.0
osd_objectstore = memstore
memstore_device_bytes = ${MEMSTORE_BYTES:-2147483648}
osd_memory_target = 536870912
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$PORT
rgw_data = $D/rgw
rgw_dns_name = localhost
rgw_enable_usage_log = false
CONF
  local C="-c $D/ceph.conf"
  monmaptool --create --addv a "[v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]" --fsid "$FSID" "$D/monmap" >/dev/null
  ceph-mon $C --mkfs -i a --monmap "$D/monmap"
  ceph-mon $C -i a
  local OSD_UUID; OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
  timeout 60 ceph $C osd new "$OSD_UUID" >/dev/null
  ceph-osd $C -i 0 --mkfs --osd-uuid "$OSD_UUID" 2>>"$D/log/osd-mkfs.log"
  ceph-osd $C -i 0
  timeout 120 radosgw $C -n client.rgw.a # daemonizes once connected to the cluster
  timeout 120 radosgw-admin $C user create --uid=tidemark --display-name=tidemark \
    --access-key="$AK" --secret-key="$SK" >/dev/null
  # The storage classes tidemark's TieringPolicy uses, on the default placement (all in the one
  # data pool: a test server tiers nothing, it only has to accept and report the class).
  # radosgw reads placement at start, so it is restarted once (under a second).
  for sc in EXPRESS_ONEZONE INTELLIGENT_TIERING GLACIER_IR; do
    timeout 60 radosgw-admin $C zonegroup placement add --rgw-zonegroup default \
      --placement-id default-placement --storage-class "$sc" >/dev/null
    timeout 60 radosgw-admin $C zone placement add --rgw-zone default \
      --placement-id default-placement --storage-class "$sc" --data-pool default.rgw.buckets.data >/dev/null
  done
  local RGW_PID; RGW_PID=$(cat "$D/client.rgw.a.pid")
  kill "$RGW_PID"
  for _ in $(seq 1 50); do kill -0 "$RGW_PID" 2>/dev/null || break; sleep 0.2; done
  timeout 120 radosgw $C -n client.rgw.a
  for _ in $(seq 1 120); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/" && return 0; sleep 0.5; done
  echo "radosgw.sh: radosgw did not answer on 127.0.0.1:$PORT (logs in $D/log)" >&2
  exit 1
}

case "$cmd" in
  start) start "$@" ;;
  stop) stop ;;
  *) echo "usage: radosgw.sh start|stop DATA_DIR [PORT]" >&2; exit 64 ;;
esac
