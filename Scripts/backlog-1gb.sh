#!/bin/bash
# The agent on a 1 GB backlog (Docs/PERFORMANCE.md, issue 10): first it ships the file live (the rate a drain is
# compared with), then it spools the whole file with its upstream down,
# is killed with SIGKILL, restarts on the backlog (upstream still down), then a receiver comes up and the
# backlog drains. Prints each phase's peak RSS (VmHWM) and CPU, the drain time, gaps reported, and duplicates.
#   Scripts/backlog-1gb.sh BINARY [INPUT]    INPUT defaults to 5,000,000 lines from ../shared/bench/gen.sh
#   e.g. swift build -c release --product logferry --static-swift-stdlib && Scripts/backlog-1gb.sh .build/release/logferry
set -u
LF=$(realpath "$1"); IN=${2:-/tmp/logferry-backlog-input.log}
[ -s "$IN" ] || bash "$(dirname "$0")/../../shared/bench/gen.sh" 5000000 "$IN"

D=${WORK:-/tmp/logferry-backlog}; rm -rf $D; mkdir -p $D/edge $D/central; cp $IN $D/edge/app.log; sync
SIZE=$(stat -c %s $D/edge/app.log); PORT=$((20000 + RANDOM % 20000))
hwm() { grep VmHWM /proc/$1/status | awk '{print $2}'; }
cpu() { awk '{printf "%.2f", ($14+$15)/100}' /proc/$1/stat; }
# First the live rate on the same bytes, for the replay target (a drain at least 2x the live rate): a fresh agent
# ships the file with the receiver up from the start. Its outputs are deleted before the backlog phases, so the drain's
# receiver writes into page cache the kernel has used before, like the live one (Docs/PERFORMANCE.md says why that
# matters on a VM).
$LF receive --listen 127.0.0.1:$PORT --spool $D/central/spool --out $D/central/out >$D/central/stderr 2>&1 & CP=$!
for ((i=0; i<100; i++)); do ss -ltn | grep -q ":$PORT " && break; sleep 0.05; done
t0=$(date +%s.%N)
$LF agent --spool $D/edge/spool --file $D/edge/app.log --to 127.0.0.1:$PORT --host-name edge >>$D/edge/stderr 2>&1 & EP=$!
while :; do s=$(stat -c %s $D/central/out/edge/*app.log* 2>/dev/null | awk "{t+=\$1} END {print t+0}"); [ "$s" -ge "$SIZE" ] && break; sleep 0.1; done
t1=$(date +%s.%N)
live=$(echo "$t1 - $t0" | bc)
echo "live (receiver up from the start): $live s, agent_hwm $(hwm $EP) kB cpu $(cpu $EP) s; receiver_cpu $(cpu $CP) s"
kill -INT $EP; sleep 0.5; kill $CP; wait 2>/dev/null
rm -rf $D/edge/spool $D/central; mkdir -p $D/central; sync

$LF agent --spool $D/edge/spool --file $D/edge/app.log --to 127.0.0.1:$PORT --host-name edge >$D/edge/stderr 2>&1 & EP=$!
last=-1; same=0; for ((i=0; i<1200; i++)); do s=$(du -sb $D/edge/spool 2>/dev/null | cut -f1); [ "$s" = "$last" ] && same=$((same+1)) || same=0; last=$s; [ $same -ge 20 ] && break; sleep 0.1; done
echo "spooling: spool $(du -sh $D/edge/spool | cut -f1) agent_hwm $(hwm $EP) kB cpu $(cpu $EP) s"
kill -9 $EP; wait $EP 2>/dev/null
$LF agent --spool $D/edge/spool --file $D/edge/app.log --to 127.0.0.1:$PORT --host-name edge >>$D/edge/stderr 2>&1 & EP=$!
sleep 5
echo "restarted on the backlog, upstream down (5 s): agent_hwm $(hwm $EP) kB cpu $(cpu $EP) s"
t0=$(date +%s.%N)
$LF receive --listen 127.0.0.1:$PORT --spool $D/central/spool --out $D/central/out >$D/central/stderr 2>&1 & CP=$!
while :; do s=$(stat -c %s $D/central/out/edge/*app.log* 2>/dev/null | awk "{t+=\$1} END {print t+0}"); [ "$s" -ge "$SIZE" ] && break; sleep 0.1; done
t1=$(date +%s.%N)
echo "drained in $(echo "$t1 - $t0" | bc) s: agent_hwm $(hwm $EP) kB (peak since restart) cpu $(cpu $EP) s; receiver_hwm $(hwm $CP) kB receiver_cpu $(cpu $CP) s"
kill -INT $EP; sleep 0.5; kill $CP; wait 2>/dev/null
echo "gap reports in the agent's log: $(grep -c 'segment missing' $D/edge/stderr)"
cat $D/central/out/edge/*app.log* | grep -o "seq=[0-9]*" | sort | uniq -d | wc -l | sed 's/^/duplicated seqs: /'
cat $D/central/out/edge/*app.log* | wc -l | sed 's/^/lines: /'
drain=$(echo "$t1 - $t0" | bc)

echo "drain rate / live rate: $(echo "scale=2; $live / $drain" | bc)"
[ -n "${KEEP:-}" ] || rm -rf "$D"   # KEEP=1 keeps the spools and outputs
