#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for `make test-cluster`: start | stop.
#
#   start: installs Debian's slurmctld, slurmd, slurm-client and munge when missing, writes a
#          slurm.conf for this node (its line from `slurmd -C`) under $OSGAN_SLURM_DIR, starts
#          munged (unless one runs), slurmctld and slurmd in the foreground mode (no systemd), and
#          waits until the node is idle. Prints the `export SLURM_CONF=...` line to use.
#   stop:  stops the daemons it started and removes $OSGAN_SLURM_DIR: the machine as it was
#          (the Debian packages stay installed).
#   state: prints running, stale or absent. Stale: $OSGAN_SLURM_DIR is there but none of its
#          daemons lives (a run killed before its stop, e.g. a CI job cut short); start removes
#          a stale directory and goes on, and refuses only beside a running cluster.
set -euo pipefail
DIR=${OSGAN_SLURM_DIR:-/tmp/osgan-slurm}
cmd=${1:-}

# The daemons of the cluster in $DIR still alive: a pid from its .bg files whose command line
# names this cluster's slurm.conf (a pid alone may have been reused by another process).
live_daemons() {
    local d pid
    for d in slurmctld slurmd; do
        [ -f "$DIR/$d.bg" ] || continue
        pid=$(cat "$DIR/$d.bg")
        if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$DIR/slurm.conf"; then
            echo "$pid"
        fi
    done
}

state() {
    if [ ! -e "$DIR" ]; then echo absent
    elif [ -n "$(live_daemons)" ]; then echo running
    else echo stale
    fi
}

start() {
    if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
        || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
        echo "cluster: installing Debian's slurmctld slurmd slurm-client munge" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurmctld slurmd slurm-client munge \
            >/dev/null
    fi
    case $(state) in
        running)
            echo "cluster: a cluster of this script is running in $DIR (pids $(live_daemons | tr '\n' ' ')); run '$0 stop' first" >&2
            exit 2 ;;
        stale)
            echo "cluster: $DIR is left from a cluster that no longer runs (none of its daemons lives): removing it" >&2
            rm -rf "$DIR" ;;
    esac
    mkdir -p "$DIR/state" "$DIR/spool"
    local host node name
    host=$(hostname)
    node=$(slurmd -C | head -1)
    name=$(echo "$node" | sed 's/^NodeName=\([^ ]*\).*/\1/')
    cat >"$DIR/slurm.conf" <<EOF
ClusterName=osgan
SlurmctldHost=$host
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmUser=root
ReturnToService=2
JobRequeue=1
KillWait=2
MpiDefault=none
$node State=UNKNOWN
PartitionName=debug Nodes=$name Default=YES MaxTime=INFINITE State=UP
EOF
    if ! pgrep -x munged >/dev/null; then
        mkdir -p /run/munge && chown munge:munge /run/munge
        su -s /bin/sh munge -c /usr/sbin/munged
        touch "$DIR/started-munged"
    fi
    SLURM_CONF=$DIR/slurm.conf nohup slurmctld -D -f "$DIR/slurm.conf" >"$DIR/slurmctld.out" 2>&1 &
    echo $! >"$DIR/slurmctld.bg"
    SLURM_CONF=$DIR/slurm.conf nohup slurmd -D -f "$DIR/slurm.conf" >"$DIR/slurmd.out" 2>&1 &
    echo $! >"$DIR/slurmd.bg"
    for _ in $(seq 60); do
        if SLURM_CONF=$DIR/slurm.conf sinfo -h -o %t 2>/dev/null | grep -q idle; then
            echo "export SLURM_CONF=$DIR/slurm.conf"
            return 0
        fi
        sleep 1
    done
    echo "cluster: the node did not come up; logs in $DIR" >&2
    stop
    exit 1
}

stop() {
    [ -d "$DIR" ] || return 0
    local pids p
    pids=$(live_daemons)  # only this cluster's daemons: a pid in a stale .bg may be another's
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    if [ -f "$DIR/started-munged" ]; then
        pkill -x munged || true
    fi
    for _ in $(seq 40); do  # the daemons take a few seconds to shut down: wait for them
        alive=0
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
        pgrep -x munged >/dev/null && [ -f "$DIR/started-munged" ] && alive=1
        [ $alive = 0 ] && break
        sleep 0.5
    done
    rm -rf "$DIR"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    state) state ;;
    *) echo "usage: $0 start|stop|state" >&2; exit 2 ;;
esac
