-- pydhcp schema for MySQL / MariaDB. users and history have the columns of
-- pydhcpdb's pydhcp.sql (an existing pydhcpdb database works as it is);
-- pydhcp creates pydhcp_lease itself when it is missing.
--   mysql pydhcp < sql/mysql.sql

-- Subscribers: store MACs as 12 lower-case hex digits (the form the
-- variables carry) and compare with `mac = '{ClientMacAddress}'`, which
-- uses users_mac; `upper(mac) = upper(...)` cannot use an index.
CREATE TABLE IF NOT EXISTS `users` (
  `id`     int(11) NOT NULL AUTO_INCREMENT,
  `ip`     varchar(50) NOT NULL,
  `mask`   varchar(50) NOT NULL DEFAULT '',
  `router` varchar(50) NOT NULL DEFAULT '',
  `dns`    varchar(100) NOT NULL DEFAULT '',
  `mac`    varchar(50) NOT NULL,
  `port`   varchar(10) NOT NULL DEFAULT '',
  PRIMARY KEY (`id`),
  KEY `users_mac` (`mac`),
  KEY `users_mac_port` (`mac`, `port`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `history` (
  `id`      int(11) NOT NULL AUTO_INCREMENT,
  `dt`      datetime NOT NULL,
  `mac`     varchar(50) NOT NULL,
  `ip`      varchar(50) NOT NULL,
  `comment` varchar(100) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `history_dt` (`dt`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `pydhcp_lease` (
  `client_key` varchar(255) NOT NULL,
  `mac`        varchar(64) NOT NULL,
  `ip`         varchar(15) NOT NULL,
  `option82`   varchar(600) NOT NULL DEFAULT '',
  `expires`    bigint NOT NULL,
  `state`      varchar(16) NOT NULL,
  `answer`     text NOT NULL,
  `updated`    bigint NOT NULL,
  `relay`      varchar(15) NOT NULL DEFAULT '',
  `hostname`   varchar(255) NOT NULL DEFAULT '',
  `writer`     varchar(40) NOT NULL DEFAULT '',
  PRIMARY KEY (`client_key`),
  KEY `pydhcp_lease_ip` (`ip`),
  KEY `pydhcp_lease_expires` (`expires`),
  KEY `pydhcp_lease_updated_writer` (`updated`, `writer`),
  KEY `pydhcp_lease_mac` (`mac`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- How far each run of pydhcp has written its history journal, updated in
-- the same transaction as the history rows: a batch replayed after a crash
-- is recognised by its event ids without touching the history table.
CREATE TABLE IF NOT EXISTS `pydhcp_history_mark` (
  `run`     varchar(40) NOT NULL,
  `seq`     bigint NOT NULL,
  `updated` bigint NOT NULL,
  PRIMARY KEY (`run`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
