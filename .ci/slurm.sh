#!/usr/bin/env bash
# A single-node Slurm cluster on localhost, for the experiment runner's real job-array test.
#
#   .ci/slurm.sh install      apt-get install slurm-wlm munge when slurmctld is missing
#   .ci/slurm.sh start DIR    writes DIR/slurm.conf, starts munged + slurmctld + slurmd with
#                             their sockets, pid files, logs and state under DIR, waits until
#                             the node is idle, and prints `export SLURM_CONF=DIR/slurm.conf`
#   .ci/slurm.sh stop DIR     stops the daemons started with that DIR (by their pid files)
#
# Everything lives under DIR (own munge socket and key, own ports) so that it neither needs nor
# disturbs a system-wide munge or Slurm. Debian's slurm-wlm 22.05 starts in about 2 s this way.
set -euo pipefail

cmd=${1:-}
dir=${2:-}

die() {
  echo "slurm.sh: $*" >&2
  exit 1
}

case "$cmd" in
install)
  if command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1; then
    echo "slurm.sh: slurm-wlm and munge already installed"
    exit 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "slurmctld is missing and there is no apt-get to install slurm-wlm"
  echo "slurm.sh: installing slurm-wlm and munge"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge) \
    >/dev/null 2>&1 || die "apt-get install slurm-wlm munge failed"
  ;;
start)
  [ -n "$dir" ] || die "usage: slurm.sh start DIR"
  for bin in munged slurmctld slurmd sinfo; do
    command -v "$bin" >/dev/null 2>&1 || die "$bin not found (run: .ci/slurm.sh install)"
  done
  mkdir -p "$dir"/{state,spool,log,munge}
  dir=$(cd "$dir" && pwd)
  chmod 700 "$dir/munge"
  # munged insists on a private key file of at least 32 bytes.
  head -c 1024 /dev/urandom >"$dir/munge/munge.key"
  chmod 600 "$dir/munge/munge.key"
  munged --force --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" \
    --log-file="$dir/log/munged.log" --pid-file="$dir/munge/munged.pid" \
    --seed-file="$dir/munge/munged.seed" ||
    die "munged did not start; see $dir/log/munged.log"
  host=$(hostname -s)
  cpus=$(nproc)
  # Ports from the directory name's hash, so two clusters on one machine do not collide.
  port=$((20000 + $(cksum <<<"$dir" | cut -d' ' -f1) % 20000))
  user=$(id -un)
  cat >"$dir/slurm.conf" <<EOF
ClusterName=symlab
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# No cgroups in containers: plain process tracking, no task binding, no accounting daemon.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdTimeout=30
MinJobAge=300
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF" || die "slurmctld did not start; see $dir/log/slurmctld.log"
  slurmd -f "$SLURM_CONF" || die "slurmd did not start; see $dir/log/slurmd.log"
  for _ in $(seq 1 60); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
    if [ "$state" = "idle" ]; then
      echo "export SLURM_CONF=$SLURM_CONF"
      exit 0
    fi
    sleep 0.5
  done
  die "node not idle after 30 s (state \"${state:-none}\"); see $dir/log/"
  ;;
stop)
  [ -n "$dir" ] || die "usage: slurm.sh stop DIR"
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      rm -f "$pidfile"
    fi
  done
  ;;
*)
  die "usage: slurm.sh install | start DIR | stop DIR"
  ;;
esac
