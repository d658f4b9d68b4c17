#!/usr/bin/env bash
# Makes a fresh Debian machine ready for the tests: the real DHCP peers the
# end-to-end tests drive, the packaging tools (lintian, qemu-user), an
# arm64 C library for running the ARM64 binary under qemu, Chromium for the
# help-desk page tests (driven by playwright-core from npm), a running
# MariaDB and a running PostgreSQL. Safe to run again; downloads are kept in /var/cache/pydhcp-test.
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
  [sqlite3]=sqlite3
  [qemu-aarch64]=qemu-user
  [lintian]=lintian
  [dpkg-deb]=dpkg
  [systemd-analyze]=systemd
  [file]=file
  [adduser]=adduser
  [pgrep]=procps
  [psql]=postgresql-client
  [chromium]=chromium
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

# The arm64 C library the ARM64 binary needs under qemu-aarch64 -L, from
# Debian's archive with a private apt state (the machine's own apt sources
# and architectures are left alone; `dpkg --add-architecture` is not used).
ARM64_CACHE=/var/cache/pydhcp-test
ARM64_ROOT=$ARM64_CACHE/arm64-root
if [ ! -e "$ARM64_ROOT/lib/ld-linux-aarch64.so.1" ]; then
  echo "setup: fetching the arm64 C library into $ARM64_ROOT"
  a=$ARM64_CACHE/apt
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$ARM64_CACHE/debs"
  echo 'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main' >"$a/sources.list"
  opts=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/nonexistent
        -o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" -o Dir::State::status=/dev/null
        -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update -qq
  (cd "$ARM64_CACHE/debs" && apt-get "${opts[@]}" download libc6:arm64 libgcc-s1:arm64 libstdc++6:arm64 >/dev/null)
  rm -rf "$ARM64_ROOT.tmp" && mkdir -p "$ARM64_ROOT.tmp"
  for d in "$ARM64_CACHE"/debs/*_arm64.deb; do dpkg-deb -x "$d" "$ARM64_ROOT.tmp"; done
  rm -rf "$ARM64_ROOT" && mv "$ARM64_ROOT.tmp" "$ARM64_ROOT"
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
