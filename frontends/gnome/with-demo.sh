#!/bin/bash
# with-demo.sh REELD COMMAND...: start `REELD demo` (sample data on a private bus), wait for its first
# syncs, run COMMAND with REELD_BUS_ADDRESS naming the demo's bus, and stop the demo afterwards.
set -eu -o pipefail
reeld=$1
shift
log=$(mktemp)
"$reeld" demo >"$log" 2>&1 &
demo=$!
trap 'kill -INT "$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1200); do
	grep -q "Explore it from another terminal" "$log" && break
	if ! kill -0 "$demo" 2>/dev/null; then
		echo "with-demo: reeld demo stopped early:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.1
done
address=$(sed -n 's/^Private D-Bus bus: //p' "$log")
if [ -z "$address" ]; then
	echo "with-demo: reeld demo did not say its bus address in 120 s" >&2
	exit 1
fi
echo "with-demo: reeld demo on $address"
REELD_BUS_ADDRESS=$address "$@"
