#!/bin/bash
# Checks the hardening in contrib/pydhcp.service against the real server:
# runs pydhcp as nobody with only ambient CAP_NET_BIND_SERVICE (as the unit
# does), bound to 127.0.0.1:67 in a private network namespace, under strace;
# sends a DISCOVER, scrapes /metrics and /health, reloads with SIGHUP, stops
# with SIGTERM; then lists the system calls used outside @system-service and
# inside @privileged/@resources (both lists should be empty).
# Needs root, strace, setpriv, python3, curl, systemd-analyze.
#   bash contrib/syscall-check.sh [path/to/pydhcp-binary]
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUN=$(readlink -f "$REPO/node_modules/.bin/bun")
if [ $# -ge 1 ]; then CMD=("$1"); else CMD=("$BUN" "$REPO/src/cli/main.ts"); fi
NS=pdsvc-sys$$
D=$(mktemp -d /tmp/pdsvc-sys.XXXX)
chmod 755 "$D"
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  [ -z "${KEEP:-}" ] && rm -rf "$D"
}
trap cleanup EXIT

"$BUN" -e "
import { Database } from 'bun:sqlite';
const db = new Database('$D/pydhcp.sqlite', { create: true });
db.exec(require('fs').readFileSync('$REPO/sql/sqlite.sql', 'utf8'));
db.prepare('insert into users (ip, mask, router, dns, mac, port) values (?,?,?,?,?,?)')
  .run('198.18.0.10', '255.255.255.0', '198.18.0.1', '198.18.0.53', '020000000001', '');
db.close();"
cat > "$D/config.xml" <<XML
<?xml version="1.0" ?>
<config>
  <dhcpserver>
    <host>127.0.0.1</host><port>67</port><clientPort>68</clientPort>
    <broadcast>255.255.255.255</broadcast><DHCPServer>127.0.0.1</DHCPServer>
    <LeaseTime>600</LeaseTime><ThreadLimit>4</ThreadLimit>
    <defaultMask>255.255.255.0</defaultMask><defaultRouter>198.18.0.1</defaultRouter><defaultDNS>198.18.0.53</defaultDNS>
  </dhcpserver>
  <database><sqlite><path>$D/pydhcp.sqlite</path></sqlite></database>
  <query>
    <offer_count>1</offer_count>
    <offer_1>select ip, mask, router, dns from users where mac = '{ClientMacAddress}'</offer_1>
    <history_sql>insert into history (dt, mac, ip, comment) values (datetime('now'), '{ClientMacAddress}', '{RequestedIpAddress}', 'ACK')</history_sql>
  </query>
  <history><spool>$D/history.spool</spool></history>
  <log><level>debug</level><format>json</format></log>
  <metrics><host>127.0.0.1</host><port>9167</port></metrics>
</config>
XML
chown -R nobody:nogroup "$D"
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" strace -f -qq -o "$D/strace" \
  setpriv --reuid=nobody --regid=nogroup --clear-groups \
  --inh-caps=+net_bind_service --ambient-caps=+net_bind_service --no-new-privs \
  "${CMD[@]}" -c "$D/config.xml" >"$D/out.log" 2>"$D/err.log" &
PID=$!
for _ in $(seq 150); do ip netns exec "$NS" ss -Hlun 'sport = :67' | grep -q . && break; sleep 0.1; done
ip netns exec "$NS" ss -Hlunp 'sport = :67'
SPID=$(ip netns exec "$NS" ss -Hlunp 'sport = :67' | grep -oE 'pid=[0-9]+' | head -1 | cut -d= -f2)
[ -z "$SPID" ] && { echo "server did not bind :67"; cat "$D/err.log"; exit 1; }
grep -E '^(Uid|CapEff|CapAmb)' "/proc/$SPID/status"

ip netns exec "$NS" /usr/bin/python3 -c '
import socket, struct
p = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x1234, 0, 0, bytes(4), bytes(4), bytes(4), bytes(4),
    bytes.fromhex("020000000001") + bytes(10), bytes(64), bytes(128)) + bytes.fromhex("63825363") + bytes([53, 1, 1, 255])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(p, ("127.0.0.1", 67))
print("DISCOVER sent")'
sleep 0.5
ip netns exec "$NS" curl -s -o /dev/null -w '/metrics %{http_code}\n' http://127.0.0.1:9167/metrics
ip netns exec "$NS" curl -s -o /dev/null -w '/health %{http_code}\n' http://127.0.0.1:9167/health
kill -HUP "$SPID"
sleep 0.5
kill -TERM "$SPID"
wait "$PID"
echo "exit status $?"
PID=""
grep -o '"msg":"[^"]*"' "$D/out.log" "$D/err.log" | sed 's/^[^:]*://' | sort | uniq -c

# system calls made after the server's exec (setpriv's own are not counted)
awk -v b="${CMD[0]}" 'index($0, "execve(\"" b) {on=1} on' "$D/strace" |
  grep -oE '^[0-9]+ +[a-z_0-9]+\(' | awk '{print $2}' | tr -d '(' | sort -u >"$D/used"
expand() {
  systemd-analyze syscall-filter "$@" | grep -E '^\s' | sed -E 's/^\s+//; /^#/d; /^$/d' |
    while read -r x; do case "$x" in @*) expand "$x" ;; *) echo "$x" ;; esac; done
}
expand @system-service | sort -u >"$D/allowed"
echo "system calls used: $(wc -l <"$D/used")"
echo "outside @system-service: $(comm -23 "$D/used" "$D/allowed" | tr '\n' ' ')"
echo "inside @privileged or @resources: $(expand @privileged @resources | sort -u | comm -12 "$D/used" - | tr '\n' ' ')"
