-- pydhcp schema for SQLite (bun:sqlite). pydhcp runs this on first start
-- when the database file does not exist yet. Columns of users and history
-- are those of pydhcpdb's pydhcp.sql, so its queries work unchanged.

-- Subscribers: one row per address to hand out. mac and port are matched
-- by the offer queries (client MAC, or switch MAC + port from option 82);
-- store MACs as 12 lower-case hex digits, the form the variables carry.
CREATE TABLE IF NOT EXISTS users (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  ip     TEXT NOT NULL,
  mask   TEXT NOT NULL DEFAULT '',
  router TEXT NOT NULL DEFAULT '',
  dns    TEXT NOT NULL DEFAULT '',
  mac    TEXT NOT NULL,
  port   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS users_mac ON users (mac);
CREATE INDEX IF NOT EXISTS users_mac_port ON users (mac, port);
-- pydhcpdb's own queries compare upper(mac) = upper('{...}'): expression
-- indexes keep those from scanning the table.
CREATE INDEX IF NOT EXISTS users_upper_mac ON users (upper(mac));
CREATE INDEX IF NOT EXISTS users_upper_mac_port ON users (upper(mac), upper(port));

-- What history_sql and the history_<event> statements write.
CREATE TABLE IF NOT EXISTS history (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  dt      TEXT NOT NULL,
  mac     TEXT NOT NULL,
  ip      TEXT NOT NULL,
  comment TEXT NOT NULL
);
-- retention pruning deletes by date
CREATE INDEX IF NOT EXISTS history_dt ON history (dt);

-- pydhcp's own lease memory (RFC 2131 4.3.1), kept across restarts.
CREATE TABLE IF NOT EXISTS pydhcp_lease (
  client_key TEXT PRIMARY KEY,
  mac        TEXT NOT NULL,
  ip         TEXT NOT NULL,
  option82   TEXT NOT NULL DEFAULT '',
  expires    INTEGER NOT NULL,
  state      TEXT NOT NULL,
  answer     TEXT NOT NULL,
  updated    INTEGER NOT NULL,
  relay      TEXT NOT NULL DEFAULT '',
  hostname   TEXT NOT NULL DEFAULT '',
  writer     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS pydhcp_lease_ip ON pydhcp_lease (ip);
CREATE INDEX IF NOT EXISTS pydhcp_lease_expires ON pydhcp_lease (expires);

-- How far each run of pydhcp has written its history journal, updated in
-- the same transaction as the history rows: a batch replayed after a crash
-- is recognised by its event ids without touching the history table.
CREATE TABLE IF NOT EXISTS pydhcp_history_mark (
  run     TEXT PRIMARY KEY,
  seq     INTEGER NOT NULL,
  updated INTEGER NOT NULL
);
-- the sync reads changed rows through (updated, writer); it replaced the index on updated alone
CREATE INDEX IF NOT EXISTS pydhcp_lease_updated_writer ON pydhcp_lease (updated, writer);
DROP INDEX IF EXISTS pydhcp_lease_updated;
CREATE INDEX IF NOT EXISTS pydhcp_lease_mac ON pydhcp_lease (mac);
