#!/usr/bin/env bash
# Makes a fresh Debian machine ready for the tests: the real DHCP peers the
# end-to-end tests drive, and a running MariaDB. Safe to run again.
set -euo pipefail

# binary -> Debian package
declare -A PKG=(
  [udhcpc]=udhcpc
  [dhclient]=isc-dhcp-client
  [dhcpcd]=dhcpcd-base
  [dhcrelay]=isc-dhcp-relay
  [perfdhcp]=kea-admin
  [kea-dhcp4]=kea-dhcp4-server
  [tshark]=tshark
  [ip]=iproute2
  [mariadbd]=mariadb-server
  [mariadb]=mariadb-client
)
missing=()
for bin in "${!PKG[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("${PKG[$bin]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages ${missing[*]}; run as root (or install them) first" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# MariaDB: start it when nothing answers on its socket
if ! mariadb -uroot -e 'select 1' >/dev/null 2>&1; then
  echo "setup: starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 1 60); do
    mariadb -uroot -e 'select 1' >/dev/null 2>&1 && break
    sleep 0.5
  done
  mariadb -uroot -e 'select 1' >/dev/null
fi
