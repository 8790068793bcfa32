-- flowrecon baseline schema (migration 1). Later changes are numbered files in
-- src/db/migrations/, each applied in its own transaction.
--
-- Conventions: money is INTEGER (FLOW in micro-units, *_micro; USD and other
-- currencies in minor units, *_cents or Stripe's own integer amounts);
-- timestamps are TEXT ISO-8601 UTC with milliseconds ending in Z, except the
-- Stripe `created` columns which keep Stripe's unix seconds. The SQL is kept to
-- what PostgreSQL accepts as well.

-- ---------------------------------------------------------------- ledger ----

-- Every FLOW movement exactly once. `seq` is our arrival order, which is the
-- server's sequence order (movements come ascending; repeats are dropped).
CREATE TABLE ledger_movements (
  seq                 INTEGER PRIMARY KEY,
  movement_id         TEXT    NOT NULL UNIQUE,
  account_id          TEXT    NOT NULL,
  type                TEXT    NOT NULL CHECK (type IN ('topup', 'reserve', 'settle', 'release', 'refund', 'adjustment')),
  amount_micro        INTEGER NOT NULL,
  balance_after_micro INTEGER NOT NULL,
  call_id             TEXT,
  agent_slug          TEXT,
  call_status         TEXT,
  created_at          TEXT    NOT NULL,
  synced_at           TEXT    NOT NULL
);
CREATE INDEX ledger_movements_call ON ledger_movements (call_id, seq);
CREATE INDEX ledger_movements_created ON ledger_movements (created_at);

-- One row per call id, maintained by the ledger sync in the same transaction
-- as the movements, so reconciliation reads calls without re-aggregating.
CREATE TABLE ledger_calls (
  call_id        TEXT    PRIMARY KEY,
  agent_slug     TEXT,
  started_at     TEXT,                          -- first reserve's created_at
  reserved_micro INTEGER NOT NULL DEFAULT 0,    -- minus the sum of reserve amounts
  returned_micro INTEGER NOT NULL DEFAULT 0,    -- sum of settle/release/refund amounts
  adjusted_micro INTEGER NOT NULL DEFAULT 0,    -- sum of adjustment amounts
  net_micro      INTEGER NOT NULL DEFAULT 0,    -- minus the sum of all its amounts
  status         TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  finished_at    TEXT,                          -- first final movement's created_at
  first_seq      INTEGER NOT NULL,
  last_seq       INTEGER NOT NULL               -- last movement that touched the call
);
CREATE INDEX ledger_calls_started ON ledger_calls (started_at);
CREATE INDEX ledger_calls_last_seq ON ledger_calls (last_seq);

-- Breaks in the balance_after chain (feed order): a movement is missing.
CREATE TABLE ledger_breaks (
  movement_id            TEXT    PRIMARY KEY,   -- the breaking movement
  seq                    INTEGER NOT NULL,
  expected_balance_micro INTEGER NOT NULL,      -- previous balance_after + amount
  actual_balance_micro   INTEGER NOT NULL,      -- its balance_after
  missing_micro          INTEGER NOT NULL,      -- actual - expected
  created_at             TEXT    NOT NULL
);

-- The account as each page described it.
CREATE TABLE balance_snapshots (
  id             INTEGER PRIMARY KEY,
  account_id     TEXT    NOT NULL,
  balance_micro  INTEGER NOT NULL,
  reserved_micro INTEGER NOT NULL,
  as_of          TEXT    NOT NULL,
  fetched_at     TEXT    NOT NULL
);
CREATE INDEX balance_snapshots_as_of ON balance_snapshots (as_of);

-- Cursors and watermarks of every sync, written in the same transaction as the data.
CREATE TABLE sync_state (
  name       TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- ---------------------------------------------------------------- stripe ----

CREATE TABLE stripe_charges (
  charge_id       TEXT    PRIMARY KEY,
  created         INTEGER NOT NULL,             -- unix seconds
  status          TEXT    NOT NULL,             -- succeeded | pending | failed
  currency        TEXT    NOT NULL,
  amount          INTEGER NOT NULL,
  amount_captured INTEGER NOT NULL,
  amount_refunded INTEGER NOT NULL,
  captured        INTEGER NOT NULL,             -- 0/1
  refunded        INTEGER NOT NULL,             -- 0/1
  disputed        INTEGER NOT NULL DEFAULT 0,   -- 0/1
  payment_intent  TEXT,
  customer        TEXT,
  description     TEXT,
  metadata_json   TEXT    NOT NULL,
  call_ids_raw    TEXT,                         -- the metadata value the links came from
  call_ids_source TEXT,                         -- 'charge' | 'payment_intent' | NULL
  livemode        INTEGER NOT NULL,
  version_ms      INTEGER NOT NULL,             -- when this snapshot was true; older never overwrites newer
  synced_at       TEXT    NOT NULL
);
CREATE INDEX stripe_charges_created ON stripe_charges (created);
CREATE INDEX stripe_charges_synced ON stripe_charges (synced_at); -- what changed since the last reconcile

-- Which calls a charge bills (several for a batch charge).
CREATE TABLE stripe_charge_calls (
  charge_id TEXT NOT NULL,
  call_id   TEXT NOT NULL,
  PRIMARY KEY (charge_id, call_id)
);
CREATE INDEX stripe_charge_calls_call ON stripe_charge_calls (call_id);

CREATE TABLE stripe_refunds (
  refund_id      TEXT    PRIMARY KEY,
  charge_id      TEXT,
  payment_intent TEXT,
  amount         INTEGER NOT NULL,
  currency       TEXT    NOT NULL,
  status         TEXT    NOT NULL,              -- succeeded | pending | failed | canceled | requires_action
  reason         TEXT,
  created        INTEGER NOT NULL,
  version_ms     INTEGER NOT NULL,
  synced_at      TEXT    NOT NULL
);
CREATE INDEX stripe_refunds_charge ON stripe_refunds (charge_id);
CREATE INDEX stripe_refunds_created ON stripe_refunds (created);
CREATE INDEX stripe_refunds_synced ON stripe_refunds (synced_at);

-- Events already applied (deduplication by event id).
CREATE TABLE stripe_events (
  event_id     TEXT    PRIMARY KEY,
  type         TEXT    NOT NULL,
  created      INTEGER NOT NULL,
  object_id    TEXT,
  processed_at TEXT    NOT NULL
);

-- ------------------------------------------------------------- reconcile ----

CREATE TABLE discrepancies (
  discrepancy_id    TEXT    PRIMARY KEY,        -- stable: derived from type and the ids involved
  type              TEXT    NOT NULL,
  severity          TEXT    NOT NULL CHECK (severity IN ('high', 'medium', 'low')),
  call_ids          TEXT    NOT NULL,           -- ';'-separated, sorted
  stripe_charge_ids TEXT    NOT NULL,           -- ';'-separated, sorted
  agent_slug        TEXT,
  flow_net_micro    INTEGER,
  expected_cents    INTEGER,
  billed_cents      INTEGER,
  delta_cents       INTEGER,
  at_stake_cents    INTEGER NOT NULL DEFAULT 0, -- USD the problem puts at stake (summary usd_at_stake)
  occurred_at       TEXT    NOT NULL,
  detail            TEXT    NOT NULL,
  first_seen_at     TEXT    NOT NULL,
  first_seen_run_id TEXT    NOT NULL,
  last_seen_at      TEXT    NOT NULL,
  last_seen_run_id  TEXT    NOT NULL,
  resolved_at       TEXT,                       -- NULL while open
  resolved_run_id   TEXT,
  acknowledged_at   TEXT,
  ack_note          TEXT
);
CREATE INDEX discrepancies_open ON discrepancies (resolved_at, type);
CREATE INDEX discrepancies_occurred ON discrepancies (occurred_at);

-- Calls and charges the last reconcile left waiting (pending calls, calls within
-- the billing grace, charges whose calls are not final or within the grace):
-- an incremental reconcile judges them again even when nothing about them changed.
CREATE TABLE reconcile_waiting (
  kind TEXT NOT NULL CHECK (kind IN ('call', 'charge')),
  id   TEXT NOT NULL,
  PRIMARY KEY (kind, id)
) WITHOUT ROWID;

-- ------------------------------------------------------------ operations ----

-- One row per job run (run, ledger, daily, and the single-stage commands).
CREATE TABLE runs (
  run_id      TEXT PRIMARY KEY,
  job         TEXT NOT NULL,
  window_from TEXT,
  window_to   TEXT,
  started_at  TEXT NOT NULL,
  finished_at TEXT,
  status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  error       TEXT,
  counts_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_job_started ON runs (job, started_at);

-- Cross-process mutual exclusion per job.
CREATE TABLE leases (
  name        TEXT PRIMARY KEY,
  holder      TEXT NOT NULL,
  acquired_at TEXT NOT NULL,
  expires_at  TEXT NOT NULL
);

-- Alert state per account and type.
CREATE TABLE alert_states (
  account_id       TEXT NOT NULL,
  alert_type       TEXT NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('ok', 'firing')),
  value            TEXT NOT NULL DEFAULT '',
  threshold        TEXT NOT NULL DEFAULT '',
  changed_at       TEXT NOT NULL,
  last_notified_at TEXT,
  PRIMARY KEY (account_id, alert_type)
);

-- Alert events waiting for (or done with) webhook delivery; the id is the Idempotency-Key.
CREATE TABLE alert_outbox (
  event_id        TEXT    PRIMARY KEY,
  account_id      TEXT    NOT NULL,
  alert_type      TEXT    NOT NULL,
  payload_json    TEXT    NOT NULL,
  created_at      TEXT    NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  last_attempt_at TEXT,
  delivered_at    TEXT,
  last_error      TEXT
);
CREATE INDEX alert_outbox_pending ON alert_outbox (delivered_at, created_at);
