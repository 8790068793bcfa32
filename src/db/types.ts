/**
 * The schema mirrored in types for kysely. One interface per table of
 * schema.sql (and later migrations); keep the two in step.
 */
import type { Generated } from 'kysely';

export interface LedgerMovementsTable {
  seq: Generated<number>;
  movement_id: string;
  account_id: string;
  type: 'topup' | 'reserve' | 'settle' | 'release' | 'refund' | 'adjustment';
  amount_micro: number;
  balance_after_micro: number;
  call_id: string | null;
  agent_slug: string | null;
  call_status: string | null;
  created_at: string;
  synced_at: string;
}

export interface LedgerCallsTable {
  call_id: string;
  agent_slug: string | null;
  started_at: string | null;
  reserved_micro: number;
  returned_micro: number;
  adjusted_micro: number;
  net_micro: number;
  status: 'pending' | 'succeeded' | 'failed';
  finished_at: string | null;
  first_seq: number;
  last_seq: number;
}

export interface LedgerBreaksTable {
  movement_id: string;
  seq: number;
  expected_balance_micro: number;
  actual_balance_micro: number;
  missing_micro: number;
  created_at: string;
}

export interface BalanceSnapshotsTable {
  id: Generated<number>;
  account_id: string;
  balance_micro: number;
  reserved_micro: number;
  as_of: string;
  fetched_at: string;
}

export interface SyncStateTable {
  name: string;
  value: string;
  updated_at: string;
}

export interface StripeChargesTable {
  charge_id: string;
  created: number;
  status: string;
  currency: string;
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  captured: number;
  refunded: number;
  disputed: number;
  payment_intent: string | null;
  customer: string | null;
  description: string | null;
  metadata_json: string;
  call_ids_raw: string | null;
  call_ids_source: 'charge' | 'payment_intent' | null;
  livemode: number;
  version_ms: number;
  synced_at: string;
}

export interface StripeChargeCallsTable {
  charge_id: string;
  call_id: string;
}

export interface StripeRefundsTable {
  refund_id: string;
  charge_id: string | null;
  payment_intent: string | null;
  amount: number;
  currency: string;
  status: string;
  reason: string | null;
  created: number;
  version_ms: number;
  synced_at: string;
}

export interface StripeEventsTable {
  event_id: string;
  type: string;
  created: number;
  object_id: string | null;
  processed_at: string;
}

export interface DiscrepanciesTable {
  discrepancy_id: string;
  type: string;
  severity: 'high' | 'medium' | 'low';
  call_ids: string;
  stripe_charge_ids: string;
  agent_slug: string | null;
  flow_net_micro: number | null;
  expected_cents: number | null;
  billed_cents: number | null;
  delta_cents: number | null;
  at_stake_cents: Generated<number>;
  occurred_at: string;
  detail: string;
  first_seen_at: string;
  first_seen_run_id: string;
  last_seen_at: string;
  last_seen_run_id: string;
  resolved_at: string | null;
  resolved_run_id: string | null;
  acknowledged_at: string | null;
  ack_note: string | null;
}

export interface ReconcileWaitingTable {
  kind: 'call' | 'charge';
  id: string;
}

export interface RunsTable {
  run_id: string;
  job: string;
  window_from: string | null;
  window_to: string | null;
  started_at: string;
  finished_at: string | null;
  status: 'running' | 'succeeded' | 'failed';
  error: string | null;
  counts_json: string;
}

export interface LeasesTable {
  name: string;
  holder: string;
  acquired_at: string;
  expires_at: string;
}

export interface AlertStatesTable {
  account_id: string;
  alert_type: string;
  state: 'ok' | 'firing';
  value: string;
  threshold: string;
  changed_at: string;
  last_notified_at: string | null;
}

export interface AlertOutboxTable {
  event_id: string;
  account_id: string;
  alert_type: string;
  payload_json: string;
  created_at: string;
  attempts: number;
  last_attempt_at: string | null;
  delivered_at: string | null;
  last_error: string | null;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: string;
}

export interface Database {
  ledger_movements: LedgerMovementsTable;
  ledger_calls: LedgerCallsTable;
  ledger_breaks: LedgerBreaksTable;
  balance_snapshots: BalanceSnapshotsTable;
  sync_state: SyncStateTable;
  stripe_charges: StripeChargesTable;
  stripe_charge_calls: StripeChargeCallsTable;
  stripe_refunds: StripeRefundsTable;
  stripe_events: StripeEventsTable;
  discrepancies: DiscrepanciesTable;
  reconcile_waiting: ReconcileWaitingTable;
  runs: RunsTable;
  leases: LeasesTable;
  alert_states: AlertStatesTable;
  alert_outbox: AlertOutboxTable;
  schema_migrations: SchemaMigrationsTable;
}
