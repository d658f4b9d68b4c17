-- pydhcp schema for PostgreSQL. users and history have the columns of
-- pydhcpdb's pydhcp.sql, so its queries work (see docs/queries.md for the
-- few MySQL spellings PostgreSQL needs changed); pydhcp creates
-- pydhcp_lease itself when it is missing.
--   psql -d pydhcp -f sql/postgresql.sql

-- Subscribers: store MACs as 12 lower-case hex digits (the form the
-- variables carry) and compare with `mac = '{ClientMacAddress}'`, which
-- uses users_mac.
CREATE TABLE IF NOT EXISTS users (
  id     serial PRIMARY KEY,
  ip     varchar(50) NOT NULL,
  mask   varchar(50) NOT NULL DEFAULT '',
  router varchar(50) NOT NULL DEFAULT '',
  dns    varchar(100) NOT NULL DEFAULT '',
  mac    varchar(50) NOT NULL,
  port   varchar(10) NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS users_mac ON users (mac);
CREATE INDEX IF NOT EXISTS users_mac_port ON users (mac, port);
-- pydhcpdb's own queries compare upper(mac) = upper('{...}'): expression
-- indexes keep those from scanning the table.
CREATE INDEX IF NOT EXISTS users_upper_mac ON users (upper(mac));
CREATE INDEX IF NOT EXISTS users_upper_mac_port ON users (upper(mac), upper(port));

-- What history_sql and the history_<event> statements write.
CREATE TABLE IF NOT EXISTS history (
  id      serial PRIMARY KEY,
  dt      timestamp NOT NULL,
  mac     varchar(50) NOT NULL,
  ip      varchar(50) NOT NULL,
  comment varchar(100) NOT NULL
);
-- retention pruning deletes by date
CREATE INDEX IF NOT EXISTS history_dt ON history (dt);
-- pydhcpdb's history_sql inserts NULL into id, which MySQL reads as "the
-- next number"; PostgreSQL would refuse it. This trigger gives it the next
-- number, so that statement runs unchanged.
CREATE OR REPLACE FUNCTION history_next_id() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id IS NULL THEN NEW.id := nextval(pg_get_serial_sequence('history', 'id')); END IF; RETURN NEW; END $$;
CREATE OR REPLACE TRIGGER history_next_id BEFORE INSERT ON history FOR EACH ROW EXECUTE FUNCTION history_next_id();

-- pydhcp's own lease memory (RFC 2131 4.3.1), kept across restarts.
CREATE TABLE IF NOT EXISTS pydhcp_lease (
  client_key varchar(255) PRIMARY KEY,
  mac        varchar(64) NOT NULL,
  ip         varchar(15) NOT NULL,
  option82   varchar(600) NOT NULL DEFAULT '',
  expires    bigint NOT NULL,
  state      varchar(16) NOT NULL,
  answer     text NOT NULL,
  updated    bigint NOT NULL,
  relay      varchar(15) NOT NULL DEFAULT '',
  hostname   varchar(255) NOT NULL DEFAULT '',
  writer     varchar(40) NOT NULL DEFAULT ''
);
-- a table made by an older pydhcp gains the columns added since
ALTER TABLE pydhcp_lease ADD COLUMN IF NOT EXISTS relay varchar(15) NOT NULL DEFAULT '';
ALTER TABLE pydhcp_lease ADD COLUMN IF NOT EXISTS hostname varchar(255) NOT NULL DEFAULT '';
ALTER TABLE pydhcp_lease ADD COLUMN IF NOT EXISTS writer varchar(40) NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS pydhcp_lease_ip ON pydhcp_lease (ip);
CREATE INDEX IF NOT EXISTS pydhcp_lease_expires ON pydhcp_lease (expires);
-- the sync reads changed rows through (updated, writer); it replaced the index on updated alone
CREATE INDEX IF NOT EXISTS pydhcp_lease_updated_writer ON pydhcp_lease (updated, writer);
DROP INDEX IF EXISTS pydhcp_lease_updated;
CREATE INDEX IF NOT EXISTS pydhcp_lease_mac ON pydhcp_lease (mac);

-- The last journal sequence number written per pydhcp run, updated in
-- the same transaction as the history rows: a batch replayed after a crash
-- is recognised by its event ids without touching the history table.
CREATE TABLE IF NOT EXISTS pydhcp_history_mark (
  run     varchar(40) PRIMARY KEY,
  seq     bigint NOT NULL,
  updated bigint NOT NULL
);
