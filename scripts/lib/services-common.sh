# shellcheck shell=bash
# Helpers for scripts/services: messages, polling with a deadline, pid files and
# background daemons. Sourced, never run. Everything here is plain bash + coreutils.

svc_log() { echo "services: $*" >&2; }

# Prints the reason a service failed, then the tail of its log.
svc_report_failure() { # name log message
  local name=$1 log=$2 msg=$3
  echo "services: FAILED: $name: $msg" >&2
  if [ -s "$log" ]; then
    echo "services: --- last lines of $log ---" >&2
    tail -n 30 "$log" >&2
    echo "services: --- end of $log ---" >&2
  fi
}

# Is something accepting TCP connections on 127.0.0.1:PORT?
svc_port_open() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Polls CMD... every 0.2 s until it succeeds, the deadline passes, or the process
# in PIDFILE (when given, may be "") is gone. Returns 0 when CMD succeeded.
svc_wait_for() { # timeout_seconds pidfile cmd...
  local timeout=$1 pidfile=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pidfile" ] && ! svc_pid_alive "$pidfile" ""; then
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.2
  done
}

# Why svc_wait_for gave up on the daemon in PIDFILE: for the failure message.
svc_why_not_ready() { # pidfile timeout
  if svc_pid_alive "$1" ""; then
    echo "is running but did not answer within ${2}s"
  else
    echo "exited"
  fi
}

# Is the process whose pid is in PIDFILE running, and (when MATCH is not empty)
# does its command line contain MATCH? Guards against acting on a recycled pid.
svc_pid_alive() { # pidfile match
  local pidfile=$1 match=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(head -n 1 "$pidfile" | tr -dc '0-9')
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ -z "$match" ] && return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$match"
}

# Stops daemons by their pid files, all at once: SIGTERM to each one that is alive and
# matches, then waits for them together and sends SIGKILL to any still running after
# TIMEOUT seconds. Removes the pid files. Arguments come in threes.
svc_stop_pidfiles() { # timeout [name pidfile match]...
  local timeout=$1 pid i deadline
  shift
  local pids=() names=() files=()
  while [ "$#" -ge 3 ]; do
    if svc_pid_alive "$2" "$3"; then
      pid=$(head -n 1 "$2" | tr -dc '0-9')
      svc_log "stopping $1 (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$1")
    fi
    files+=("$2")
    shift 3
  done
  deadline=$((SECONDS + timeout))
  for i in "${!pids[@]}"; do
    while kill -0 "${pids[i]}" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if kill -0 "${pids[i]}" 2>/dev/null; then
      svc_log "${names[i]} (pid ${pids[i]}) did not stop in ${timeout}s; killing it"
      kill -KILL "${pids[i]}" 2>/dev/null || true
    fi
  done
  rm -f "${files[@]}"
}

svc_kill_pidfile() { # name pidfile match
  svc_stop_pidfiles 15 "$1" "$2" "$3"
}

# Starts CMD... detached from this script (own session, stdin from /dev/null,
# output appended to LOG) and writes its pid to PIDFILE. The pid is written by the
# process itself just before exec, so it is the daemon's own pid.
svc_spawn() { # pidfile log cmd...
  local pidfile=$1 log=$2
  shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ and $@ are expanded by the inner bash
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$log" 2>&1 &
  local deadline=$((SECONDS + 10))
  until [ -s "$pidfile" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.05; done
  [ -s "$pidfile" ]
}

# Runs a start function in a subshell with errexit really on (bash ignores set -e
# inside functions called from a condition), reports its failure with the tail
# of LOG, and records the name in SVC_FAILED.
SVC_FAILED=()
svc_run() { # name log function
  local name=$1 log=$2 fn=$3 rc=0
  set +e
  (
    set -e
    "$fn"
  )
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    svc_report_failure "$name" "$log" "start failed (exit $rc)"
    SVC_FAILED+=("$name")
  fi
  return 0
}

# Compares dotted versions: is $1 >= $2?
svc_version_ge() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}
