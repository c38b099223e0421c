#!/usr/bin/env bash
# The demo through profiles/slurm on a real one-node SLURM cluster (issue 25), as root on Debian.
#
#   tests/cluster/slurm_demo.sh [--accounting none|slurmdbd] [--compare] [--keep-cluster]
#                               [--workdir DIR [--reuse-local]]
#   tests/cluster/slurm_demo.sh --up          # only bring the cluster up (and leave it up)
#   tests/cluster/slurm_demo.sh --stop        # stop the daemons an --up or --keep-cluster run left
#
# 1. Installs SLURM 22.05 from Debian (slurmctld, slurmd, slurm-client, munge; with
#    --accounting slurmdbd also slurmdbd and MariaDB, listening on its socket only) and brings
#    up one node with every CPU, 85 % of the memory and two fake GPUs (gres) in two
#    partitions, `cpu` (default) and `gpu`. slurmd runs under tests/cluster/subreaper.py, which
#    adopts every job process and so measures the CPU time spent inside SLURM jobs.
# 2. Runs the demo locally (`snakemake --cores 2`), the reference.
# 3. Writes a site profile the way a user would (tests/cluster/slurm_check.py site-profile: the
#    partitions, the account, sizes that fit this node, the status command), read after
#    profiles/slurm with a second --profile; profiles/slurm itself is used as shipped.
# 4. Checks that the workflow refuses, within seconds and before submitting anything, a request
#    no node can satisfy (and, without accounting, the sacct status command).
# 5. Runs the demo through SLURM and checks (slurm_check.py verify): every job of every rule
#    that declares a GPU ran in a SLURM job granted one, the models, landmark sets, scores and
#    landmark tables are byte-identical to the local run's, and the logs are where the README
#    says. With --compare it also runs it without the profile's job groups, and without them
#    and with the executor's default status interval (40 s), as the profile was before.
# 6. Prints wall and CPU time of every run side by side, and stops the daemons it started.
#
# Where apt-get is absent (not Debian/Ubuntu) it prints why it skipped and exits 0.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
ACCOUNTING=none
COMPARE=0
REUSE_LOCAL=0
KEEP=0
STOP_ONLY=0
UP_ONLY=0
WORK=""
while [ $# -gt 0 ]; do
    case $1 in
        --accounting) ACCOUNTING=$2; shift ;;
        --accounting=*) ACCOUNTING=${1#*=} ;;
        --compare) COMPARE=1 ;;
        --reuse-local) REUSE_LOCAL=1 ;;
        --keep-cluster) KEEP=1 ;;
        --workdir) WORK=$2; shift ;;
        --stop) STOP_ONLY=1 ;;
        --up) UP_ONLY=1 KEEP=1 ;;
        -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "slurm_demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case $ACCOUNTING in none | slurmdbd) ;; *)
    echo "slurm_demo.sh: --accounting must be none or slurmdbd, not '$ACCOUNTING'" >&2
    exit 2 ;;
esac

if ! command -v apt-get >/dev/null 2>&1; then
    echo "SKIPPED tests/cluster/slurm_demo.sh: apt-get is absent (not a Debian/Ubuntu machine)," \
        "so no SLURM cluster can be installed here; nothing was checked."
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "slurm_demo.sh: must run as root (it installs SLURM and starts its daemons)" >&2
    exit 1
fi

STATE=/run/emoflow-slurm          # PID files of what this script started
ACCOUNT=emoflow_ci
PYTHON=$REPO/.venv/bin/python
SNAKEMAKE=$REPO/.venv/bin/snakemake
CHECK="$PYTHON $REPO/tests/cluster/slurm_check.py"
T0=$(date +%s)
say() { echo "[slurm_demo $(($(date +%s) - T0)) s] $*"; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }
setup() { # the virtual environment and the cluster executors (make cluster-setup), quiet unless it fails
    make -C "$REPO" cluster-setup >/tmp/emoflow-slurm-setup.log 2>&1 || {
        tail -30 /tmp/emoflow-slurm-setup.log
        exit 1
    }
}

stop_cluster() {
    # only what this script started, by the PID files it wrote
    local name
    for name in subreaper slurmctld slurmdbd mariadb munged; do
        if alive "$STATE/$name.pid"; then
            kill "$(cat "$STATE/$name.pid")" 2>/dev/null || true
            for _ in $(seq 30); do alive "$STATE/$name.pid" || break; sleep 0.5; done
        fi
        rm -f "$STATE/$name.pid"
    done
    rm -f "$STATE/accounting"
}

if [ "$STOP_ONLY" = 1 ]; then
    stop_cluster
    say "daemons stopped"
    exit 0
fi

# --- 1. the cluster ------------------------------------------------------------------------
start_cluster() {
    local pkgs="slurmctld slurmd slurm-client munge"
    [ "$ACCOUNTING" = slurmdbd ] && pkgs="$pkgs slurmdbd mariadb-server"
    # shellcheck disable=SC2086
    if dpkg -s $pkgs >/dev/null 2>&1; then
        say "packages already installed: $pkgs"
    else
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $pkgs >/dev/null
        say "installed: $pkgs"
    fi
    install -d "$STATE"
    rm -f "$STATE/task-env.log"

    # munge: the package made /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    if ! alive /run/munge/munged.pid; then # (one that was running is not ours to stop)
        runuser -u munge -- /usr/sbin/munged
        cp /run/munge/munged.pid "$STATE/munged.pid"
    fi
    munge -n | unmunge >/dev/null

    # the node: every CPU, 85 % of the memory, two fake GPUs
    HOST=$(hostname -s)
    getent hosts "$HOST" >/dev/null || echo "127.0.0.1 $HOST" >>/etc/hosts
    NCPU=$(nproc)
    MEM=$(($(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 85 / 100))
    # gres File= must be a character device (a plain file gives no CUDA_VISIBLE_DEVICES);
    # where mknod is refused, links to two distinct character devices do
    [ -e /dev/fakegpu0 ] || mknod /dev/fakegpu0 c 195 0 2>/dev/null || ln -sf /dev/null /dev/fakegpu0
    [ -e /dev/fakegpu1 ] || mknod /dev/fakegpu1 c 195 1 2>/dev/null || ln -sf /dev/zero /dev/fakegpu1
    install -d /var/spool/slurmctld /var/spool/slurmd /var/log/slurm

    local acct
    if [ "$ACCOUNTING" = slurmdbd ]; then
        acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations,limits"
    else
        acct="AccountingStorageType=accounting_storage/none"
    fi
    cat >/etc/slurm/slurm.conf <<EOF
# written by emoflow's tests/cluster/slurm_demo.sh
ClusterName=emoflow
SlurmctldHost=$HOST
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# containers: no cgroup plugins
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
JobAcctGatherType=jobacct_gather/linux
$acct
# finished jobs stay visible to scontrol for an hour (the GPU check reads them)
MinJobAge=3600
# each task's job, step and GPUs, as SLURM sets them (the GPU check reads them)
TaskProlog=$STATE/task-prolog.sh
NodeName=$HOST CPUs=$NCPU RealMemory=$MEM Gres=gpu:2 State=UNKNOWN
PartitionName=cpu Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$HOST MaxTime=INFINITE State=UP
EOF
    cat >"$STATE/task-prolog.sh" <<EOF
#!/bin/sh
echo "\${SLURM_JOB_ID:-?} \${SLURM_STEP_ID:-batch} \${CUDA_VISIBLE_DEVICES:-none}" >>$STATE/task-env.log
EOF
    chmod 755 "$STATE/task-prolog.sh"
    cat >/etc/slurm/gres.conf <<EOF
AutoDetect=off
NodeName=$HOST Name=gpu File=/dev/fakegpu0
NodeName=$HOST Name=gpu File=/dev/fakegpu1
EOF

    if [ "$ACCOUNTING" = slurmdbd ]; then
        install -d -o mysql -g mysql /run/mysqld
        if ! alive "$STATE/mariadb.pid"; then
            # the socket only: no TCP port
            /usr/sbin/mariadbd --user=mysql --skip-networking \
                --pid-file=/run/mysqld/mysqld.pid >/var/log/slurm/mariadb.log 2>&1 &
            echo $! >"$STATE/mariadb.pid"
        fi
        for _ in $(seq 60); do mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 1; done
        mariadb -e 'select 1' >/dev/null || { tail /var/log/slurm/mariadb.log; exit 1; }
        mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
            CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmdbpass';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
        cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=/var/log/slurm/slurmdbd.log
PidFile=$STATE/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmdbpass
StorageLoc=slurm_acct_db
EOF
        chmod 600 /etc/slurm/slurmdbd.conf
        alive "$STATE/slurmdbd.pid" || /usr/sbin/slurmdbd
        for _ in $(seq 60); do sacctmgr -n show cluster >/dev/null 2>&1 && break; sleep 1; done
        sacctmgr -i add cluster emoflow >/dev/null || true
        sacctmgr -i add account $ACCOUNT Cluster=emoflow Description=ci Organization=ci >/dev/null || true
        sacctmgr -i add user "$(id -un)" Account=$ACCOUNT DefaultAccount=$ACCOUNT >/dev/null || true
    fi

    /usr/sbin/slurmctld
    # slurmd in the foreground under the subreaper; job processes inherit its nice value
    setsid nice -n 10 "$PYTHON" "$REPO/tests/cluster/subreaper.py" "$STATE/jobs-cpu" -- \
        /usr/sbin/slurmd -D >/var/log/slurm/subreaper.log 2>&1 &
    echo $! >"$STATE/subreaper.pid"
    for _ in $(seq 60); do sinfo -h -N -o %T 2>/dev/null | grep -qx idle && break; sleep 1; done
    sinfo
    echo "$ACCOUNTING" >"$STATE/accounting"
    # the GPU gres works: a job given one GPU sees it
    [ "$(srun -p gpu --gpus=1 -t 1 printenv CUDA_VISIBLE_DEVICES)" = 0 ]
    say "SLURM up ($ACCOUNTING accounting): $NCPU CPUs, $MEM MB, 2 GPUs"
}

if alive "$STATE/slurmctld.pid"; then
    if [ "$(cat "$STATE/accounting" 2>/dev/null)" != "$ACCOUNTING" ]; then
        echo "slurm_demo.sh: a cluster with $(cat "$STATE/accounting" 2>/dev/null || echo other)" \
            "accounting is up; stop it first (--stop)" >&2
        exit 1
    fi
    say "reusing the cluster a --keep-cluster run left"
else
    [ "$KEEP" = 1 ] || trap stop_cluster EXIT
    setup
    start_cluster
fi
scancel -u "$(id -un)" 2>/dev/null || true   # nothing left over from an earlier run
[ "$UP_ONLY" = 1 ] && exit 0

# --- 2. the local reference ---------------------------------------------------------------
setup
"$PYTHON" -m compileall -q "$REPO/emoflow"    # as make demo does: jobs import a compiled package
WORK=${WORK:-$(mktemp -d /tmp/emoflow-slurm.XXXXXX)}
mkdir -p "$WORK"
say "work folder $WORK"
run_flow() { # NAME [snakemake args]: the demo from nothing in $WORK/NAME, timed
    local name=$1
    shift
    rm -rf "${WORK:?}/$name"
    mkdir -p "$WORK/$name"
    (cd "$WORK/$name" && nice -n 10 $CHECK timed "$WORK/$name.times.json" -- \
        "$SNAKEMAKE" -s "$REPO/Snakefile" "$@") >"$WORK/$name.log" 2>&1
}
if [ "$REUSE_LOCAL" = 1 ] && [ -f "$WORK/local.times.json" ]; then
    say "reusing the local run in $WORK/local"
else
    say "local run: snakemake --cores 2"
    run_flow local --cores 2 || { tail -40 "$WORK/local.log"; exit 1; }
    say "local run done"
fi

# --- 3. the site profile ------------------------------------------------------------------
SLURM_ARGS=(--profile "$REPO/profiles/slurm" --profile "$WORK/site.yaml")
$CHECK site-profile --out "$WORK/site.yaml" --accounting "$ACCOUNTING" \
    --account "$ACCOUNT" --cpu-partition cpu --gpu-partition gpu --local-log "$WORK/local.log"
echo "--- $WORK/site.yaml"
cat "$WORK/site.yaml"

# --- 4. requests no node can satisfy stop the run before anything is submitted ------------
refused() { # NAME PATTERN [args]: the run must stop within 90 s, saying PATTERN, submitting nothing
    local name=$1 pattern=$2 started status=0
    shift 2
    started=$(date +%s)
    (cd "$WORK" && mkdir -p "$name" && cd "$name" &&
        timeout 90 "$SNAKEMAKE" -s "$REPO/Snakefile" "$@") >"$WORK/$name.log" 2>&1 || status=$?
    local took=$(($(date +%s) - started))
    if [ "$status" = 0 ] || [ "$status" = 124 ] || ! grep -q "$pattern" "$WORK/$name.log" ||
        grep -q 'submitted with SLURM jobid' "$WORK/$name.log"; then
        tail -30 "$WORK/$name.log"
        scancel -u "$(id -un)" 2>/dev/null || true
        echo "FAILED: $name: the run did not stop with '$pattern' before submitting (exit $status, $took s)" >&2
        exit 1
    fi
    say "$name: stopped in $took s: $(grep -m1 "$pattern" "$WORK/$name.log")"
}
read -r -a UNFIT <<<"$($CHECK unfit-args --site "$WORK/site.yaml")"
refused unfit "more than any node" "${SLURM_ARGS[@]}" "${UNFIT[@]}"
if [ "$ACCOUNTING" = none ]; then
    grep -v '^slurm-status-command' "$WORK/site.yaml" >"$WORK/site-sacct.yaml"
    refused sacct "slurm-status-command: squeue" --profile "$REPO/profiles/slurm" \
        --profile "$WORK/site-sacct.yaml"
fi

# --- 5. the demo through SLURM ------------------------------------------------------------
slurm_run() { # NAME [extra args]
    local name=$1
    shift
    say "SLURM run $name"
    kill -USR1 "$(cat "$STATE/subreaper.pid")"; sleep 1
    cp "$STATE/jobs-cpu" "$WORK/$name.jobs-cpu-before"
    local since
    since=$(date +%FT%T)
    run_flow "$name" "${SLURM_ARGS[@]}" --slurm-keep-successful-logs "$@" ||
        { tail -60 "$WORK/$name.log"; exit 1; }
    sleep 2 # the last step daemons end
    kill -USR1 "$(cat "$STATE/subreaper.pid")"; sleep 1
    cp "$STATE/jobs-cpu" "$WORK/$name.jobs-cpu-after"
    say "SLURM run $name done"
    $CHECK verify --local "$WORK/local" --cluster "$WORK/$name" --accounting "$ACCOUNTING" \
        --since "$since" --task-env "$STATE/task-env.log" --out "$WORK/$name.check.json"
}
slurm_run slurm
if [ "$COMPARE" = 1 ]; then
    # --groups replaces the profile's groups; a rule that does not exist groups nothing
    slurm_run slurm-ungrouped --groups none=none
    slurm_run slurm-before --groups none=none --slurm-init-seconds-before-status-checks 40
fi

# --- 6. the figures -----------------------------------------------------------------------
$CHECK table --work "$WORK"
say "done"
