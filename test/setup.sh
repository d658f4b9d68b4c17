#!/usr/bin/env bash
# Makes a fresh Debian machine ready for the tests: the real DHCP peers the
# end-to-end tests drive, a running MariaDB and a running PostgreSQL.
# Safe to run again.
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
  [psql]=postgresql-client
)
missing=()
for bin in "${!PKG[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("${PKG[$bin]}")
done
# the PostgreSQL server (Debian's, any version) lives under /usr/lib/postgresql/<version>/bin
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
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
  # by its pid file: a test's private mariadbd must not count as "already running"
  start-stop-daemon --start --oknodo --background --pidfile /run/mysqld/mysqld.pid --exec /usr/sbin/mariadbd
  for _ in $(seq 1 60); do
    mariadb -uroot -e 'select 1' >/dev/null 2>&1 && break
    sleep 0.5
  done
  mariadb -uroot -e 'select 1' >/dev/null
fi

# PostgreSQL: start Debian's cluster when it is down (no systemd here,
# hence --skip-systemctl-redirect)
pg_version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_version" ]; then
  # installed without its default cluster: make one
  pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  echo "setup: creating PostgreSQL cluster $pg_version/main"
  pg_createcluster "$pg_version" main >/dev/null
fi
if ! pg_isready -q -h /var/run/postgresql; then
  echo "setup: starting PostgreSQL $pg_version"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
  for _ in $(seq 1 60); do
    pg_isready -q -h /var/run/postgresql && break
    sleep 0.5
  done
fi
# Debian's fresh cluster authenticates local users by peer and TCP by
# password; the tests connect as postgres from root over the socket and as
# their own roles over 127.0.0.1. Trust both, on the test machine only.
if ! psql -h /var/run/postgresql -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  hba=/etc/postgresql/$pg_version/main/pg_hba.conf
  echo "setup: PostgreSQL refuses the test login; trusting local and 127.0.0.1 connections in $hba"
  sed -i '1i local all all trust\nhost all all 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main reload
  sleep 1
fi
psql -h /var/run/postgresql -U postgres -d postgres -Atc 'select 1' >/dev/null
