#!/bin/bash
# How promptly an agent comes back after an outage (Docs/PERFORMANCE.md, issue 10): the agent runs with its
# receiver down for OUTAGE seconds (long enough for its reconnect backoff to reach its cap), then the receiver
# starts. Prints the time from the receiver's start to the agent's handshake and to the first line written,
# which comes after the first ack (the receiver acks a batch once it is in its spool, then writes it out).
#   Scripts/reconnect-after-outage.sh BINARY [OUTAGE_SECONDS] [RUNS]
set -u
LF=$(realpath "$1"); OUTAGE=${2:-40}; RUNS=${3:-3}
D=${WORK:-/tmp/logferry-reconnect}
now() { date +%s.%N; }
for ((r=1; r<=RUNS; r++)); do
  rm -rf $D; mkdir -p $D/edge $D/central
  PORT=$((20000 + RANDOM % 20000))
  for ((i=0; i<1000; i++)); do echo "line $i of an outage"; done > $D/edge/app.log
  $LF agent --spool $D/edge/spool --file $D/edge/app.log --to 127.0.0.1:$PORT --host-name edge >$D/edge/stderr 2>&1 & EP=$!
  sleep "$OUTAGE"
  t0=$(now)
  $LF receive --listen 127.0.0.1:$PORT --spool $D/central/spool --out $D/central/out >$D/central/stderr 2>&1 & CP=$!
  th=""; tw=""
  for ((i=0; i<6000; i++)); do
    [ -z "$th" ] && grep -q "connected from" $D/central/stderr 2>/dev/null && th=$(now)
    [ -z "$tw" ] && [ -s "$(ls $D/central/out/edge/* 2>/dev/null | head -1)" ] && tw=$(now)
    [ -n "$th" ] && [ -n "$tw" ] && break
    sleep 0.01
  done
  echo "run $r: outage ${OUTAGE} s; receiver start -> handshake $(echo "$th - $t0" | bc) s, -> first line written $(echo "$tw - $t0" | bc) s"
  kill -INT $EP; kill $CP; wait 2>/dev/null
done
