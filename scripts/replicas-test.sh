#!/usr/bin/env bash
# Replicas behind a real load balancer: three `cria serve` processes behind haproxy, configured from
# deploy/haproxy.cfg, under the server's load test (tests/serve/load_test.cpp with CRIA_LOAD_TARGET), with
# one replica killed (SIGKILL) part way through. Passes when
#   - a conversation (X-Session-Id) sticks to one replica, and after that replica's death to one survivor;
#   - the load test sees no bad answer: the only errors besides its well-formed ones are clean ones (a cut
#     connection or haproxy's 502) from the killed replica's requests in flight, about its maxconn;
#   - haproxy marks the killed replica DOWN, and afterwards sends it nothing: further requests all succeed,
#     on the survivors (their /metrics count them).
# Usage: bash scripts/replicas-test.sh [SECONDS]   (load length, default 60; scripts/test.sh runs 10, about
#        15 s in all). CRIA_BIN (default build/release/cria) is the server, copied first since a build may
#        replace it meanwhile; CRIA_TESTS_BIN (default build/release/tests/cria_tests) the load test.
# Everything listens on 127.0.0.1 only, every wait has a deadline, and everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
cria_bin="${CRIA_BIN:-build/release/cria}"
tests_bin="${CRIA_TESTS_BIN:-build/release/tests/cria_tests}"
model=models/kjv-Q8_0.gguf
replicas=3
session="replicas-test-conversation"

work="$(mktemp -d /tmp/cria-replicas.XXXXXX)"
pids=()
replica_pid=() replica_port=()  # indexed from 1, as the servers cria1, cria2, ...

die() {
  echo "replicas-test: FAIL: $*" >&2
  exit 1
}

# A process that has not exited (a zombie has, though kill -0 still finds it).
running() {
  [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# Stops what this script started: TERM first (a replica finishes nothing, there is no load by now), KILL
# after 5 s. The temporary folder stays when the test failed, for its logs.
cleanup() {
  local status=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for p in "${pids[@]}"; do running "$p" && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$status" = 0 ]; then
    rm -rf "$work"
  else
    for f in "$work"/*.log; do
      [ -f "$f" ] && { echo "--- $f (last lines)"; tail -n 15 "$f"; }
    done
    echo "replicas-test: logs and the generated config are in $work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "replicas-test: FAIL at line $LINENO: $BASH_COMMAND" >&2' ERR

# forget PID: a child already reaped, whose number the system may give to another process.
forget() {
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# wait_until SECONDS COMMAND...: runs COMMAND until it succeeds; false when SECONDS pass first.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# A port nothing listens on, below the range the kernel takes ports for outgoing connections from (the
# load test makes thousands, and one of them could hold the port). Another program could still take it
# before haproxy binds it; haproxy then fails to start and says so.
free_port() {
  local p low
  low="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)"
  [ "$low" -gt 12000 ] || low=12000
  for _ in $(seq 100); do
    p=$((10000 + RANDOM % (low - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  die "no free port found"
}

# lb_stat SERVER FIELD: a column of haproxy's CSV statistics (`show stat`) for a server of backend cria.
lb_stat() {
  curl -s --max-time 2 "http://127.0.0.1:$stats_port/stats;csv" |
    awk -F, -v server="$1" -v field="$2" '
      NR == 1 { for (i = 1; i <= NF; i++) { name = $i; sub(/^# /, "", name); col[name] = i }; next }
      $1 == "cria" && $2 == server { print $col[field] }'
}

# survivors_served: the requests the replicas still alive have answered, from their Prometheus metrics.
survivors_served() {
  local n total=0
  for n in $(seq "$replicas"); do
    [ "$n" = "$victim" ] && continue
    total=$((total + $(curl -s --max-time 2 "http://127.0.0.1:${replica_port[$n]}/metrics" |
      awk '/^cria:e2e_request_latency_seconds_count/ { print $2 }')))
  done
  echo "$total"
}

# complete [CURL ARGS]: one short completion through haproxy; prints the HTTP status.
complete() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H 'Content-Type: application/json' "$@" \
    -d '{"prompt": "In the beginning", "max_tokens": 4}' "http://127.0.0.1:$lb_port/v1/completions"
}

[ -x "$cria_bin" ] || die "no server binary at $cria_bin (build first, or set CRIA_BIN)"
[ -x "$tests_bin" ] || die "no test binary at $tests_bin (build first, or set CRIA_TESTS_BIN)"
command -v haproxy >/dev/null || die "haproxy is not installed (scripts/install-deps.sh)"
cp "$cria_bin" "$work/cria"

# The replicas take any free port (--port 0) and say which on their first line.
for n in $(seq "$replicas"); do
  "$work/cria" serve -m "$model" --host 127.0.0.1 --port 0 -t 1 --metrics >"$work/replica$n.log" 2>&1 &
  replica_pid[n]=$!
  pids+=("$!")
done
for n in $(seq "$replicas"); do
  wait_until 30 grep -q "listening on" "$work/replica$n.log" || die "replica $n did not start"
  replica_port[n]="$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/replica$n.log")"
done

# The config is the template with this test's addresses, its replicas and the log on haproxy's stdout.
lb_port="$(free_port)"
stats_port="$(free_port)"
[ "$lb_port" != "$stats_port" ] || stats_port="$(free_port)"
servers=""
for n in $(seq "$replicas"); do servers+="    server cria$n 127.0.0.1:${replica_port[$n]}\n"; done
awk -v lb="127.0.0.1:$lb_port" -v stats="127.0.0.1:$stats_port" -v servers="$servers" '
  /^[a-z]/ { section = $1 " " $2 }
  $1 == "log" && section == "global " { print "    log stdout format raw local0"; next }
  $1 == "bind" && section == "frontend cria" { print "    bind " lb; next }
  $1 == "bind" && section == "frontend stats" { print "    bind " stats; next }
  $1 == "server" { if (!placed) printf "%s", servers; placed = 1; next }
  { print }' deploy/haproxy.cfg >"$work/haproxy.cfg"
[ "$(grep -c "127.0.0.1:$lb_port\|127.0.0.1:$stats_port" "$work/haproxy.cfg")" = 2 ] ||
  die "deploy/haproxy.cfg lacks the bind lines this script replaces"
haproxy -c -q -f "$work/haproxy.cfg" || die "haproxy rejects the generated config"
maxconn="$(sed -n 's/^ *default-server .*maxconn \([0-9]*\).*/\1/p' "$work/haproxy.cfg")"
[ -n "$maxconn" ] || die "deploy/haproxy.cfg sets no maxconn on default-server"

haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!
pids+=("$haproxy_pid")
all_up() {
  running "$haproxy_pid" || die "haproxy exited (haproxy.log below)"
  for n in $(seq "$replicas"); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${replica_port[$n]}/health")" = 200 ] || return 1
    [ "$(lb_stat "cria$n" status)" = UP ] && [ "$(lb_stat "cria$n" check_status)" = L7OK ] || return 1
  done
}
wait_until 30 all_up || die "the replicas did not all become healthy in haproxy within 30 s"
echo "replicas-test: ${replicas} replicas on ports ${replica_port[*]}, haproxy on $lb_port (stats $stats_port)"

# Affinity: a conversation's turns go to one replica. That replica is the one killed later, so the
# conversation must then move, whole, to a survivor.
before=()
for n in $(seq "$replicas"); do before[n]="$(lb_stat "cria$n" stot)"; done
for _ in 1 2 3 4; do
  [ "$(complete -H "X-Session-Id: $session")" = 200 ] || die "a request with X-Session-Id failed"
done
victim=""
for n in $(seq "$replicas"); do
  delta=$(($(lb_stat "cria$n" stot) - ${before[$n]}))
  if [ "$delta" = 4 ]; then victim=$n; elif [ "$delta" != 0 ]; then victim=""; break; fi
done
[ -n "$victim" ] || die "the 4 requests of one X-Session-Id did not all go to one replica"

# The load test through haproxy, and the kill at 40% of it.
CRIA_LOAD_TARGET="127.0.0.1:$lb_port" CRIA_LOAD_SECONDS="$seconds" timeout $((seconds + 180)) \
  "$tests_bin" --gtest_filter='ServeLoad*' --gtest_brief=1 >"$work/load.log" 2>&1 &
load_pid=$!
pids+=("$load_pid")
sleep $((seconds * 2 / 5 > 2 ? seconds * 2 / 5 : 2))
kill -KILL "${replica_pid[$victim]}"
wait "${replica_pid[$victim]}" 2>/dev/null || true
forget "${replica_pid[$victim]}"
killed_at=$SECONDS
echo "replicas-test: killed replica $victim (cria$victim) at ${killed_at} s"
victim_down() { [ "$(lb_stat "cria$victim" status)" = DOWN ]; }
wait_until 15 victim_down || die "haproxy did not mark cria$victim DOWN within 15 s"
echo "replicas-test: haproxy marked cria$victim DOWN within $((SECONDS - killed_at + 1)) s of the kill"
wait "$load_pid" || die "the load test through haproxy failed (load.log below)"
forget "$load_pid"
tally="$(grep '^load via' "$work/load.log")" || die "the load test printed no tallies"
echo "replicas-test: $tally"
grep '^first clean error' "$work/load.log" || true
# What the kill may cost: the killed replica's requests in flight (at most its maxconn), plus the few that
# haproxy handed it while the process was dying (the kernel still completes connections for a moment) and
# before three failures in a row marked it down (`observe layer7 error-limit 3`). Twice maxconn is ample;
# a haproxy that kept sending it requests (leastconn without `observe`) fails hundreds.
clean="$(echo "$tally" | sed -n 's/.* \([0-9]*\) clean errors.*/\1/p')"
errors_5xx="$(lb_stat FRONTEND hrsp_5xx)"
echo "replicas-test: haproxy answered $errors_5xx requests with a 5xx"
if [ "$clean" -gt $((2 * maxconn)) ] || [ "$errors_5xx" -gt $((2 * maxconn)) ]; then
  die "$clean clean errors and $errors_5xx 5xx answers; the killed replica can have had $maxconn requests in flight"
fi

# After the kill: further requests all succeed, none goes to the dead replica, and the survivors
# answer them all. The conversation sticks again, now to a survivor.
dead_stot="$(lb_stat "cria$victim" stot)"
served_before="$(survivors_served)"
for n in $(seq "$replicas"); do before[n]="$(lb_stat "cria$n" stot)"; done
for _ in 1 2 3 4; do
  [ "$(complete -H "X-Session-Id: $session")" = 200 ] || die "a request with X-Session-Id failed after the kill"
done
moved=0
for n in $(seq "$replicas"); do
  delta=$(($(lb_stat "cria$n" stot) - ${before[$n]}))
  [ "$delta" = 4 ] && moved=1
  [ "$delta" = 0 ] || [ "$delta" = 4 ] || die "after the kill, the conversation was spread over replicas"
done
[ "$moved" = 1 ] || die "after the kill, the conversation did not move to one survivor"
further=12
for _ in $(seq "$further"); do
  [ "$(complete)" = 200 ] || die "a request after the kill failed"
done
[ "$(lb_stat "cria$victim" stot)" = "$dead_stot" ] || die "haproxy still sent requests to the killed replica"
# A replica counts a request once it has answered it, which may be a moment after the client has the answer.
all_counted() { [ $(($(survivors_served) - served_before)) = $((further + 4)) ]; }
wait_until 5 all_counted ||
  die "the survivors answered $(($(survivors_served) - served_before)) of the $((further + 4)) requests after the kill"
echo "replicas-test: after the kill $((further + 4)) requests succeeded on the survivors; passed in ${SECONDS} s"
