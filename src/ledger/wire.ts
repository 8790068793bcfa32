/**
 * The one adapter between the AgentFlow feed's JSON (CONTRACT 2, a format we
 * pinned ourselves because AgentFlow does not document it) and our domain
 * types. A page is checked completely before the sync writes any of it; the
 * first broken field fails the run with a message naming the field and the
 * movement. Unknown extra fields are ignored.
 *
 * Hand-written rather than a schema library: every one of a million
 * movements passes through here during a backfill.
 */
import { MOVEMENT_TYPES, type LedgerPage, type Movement, type MovementType } from '../domain.js';
import { FlowreconError } from '../errors.js';
import { tryParseFlowMicro } from '../money.js';

type Sign = 'negative' | 'positive' | 'non-negative' | 'any';

/** CONTRACT 2's movement table: the sign each type's amount must carry and whether it needs a call. */
const RULES: Record<MovementType, { sign: Sign; needsCall: boolean }> = {
  topup: { sign: 'positive', needsCall: false },
  reserve: { sign: 'negative', needsCall: true },
  settle: { sign: 'non-negative', needsCall: true },
  release: { sign: 'positive', needsCall: true },
  refund: { sign: 'positive', needsCall: true },
  adjustment: { sign: 'any', needsCall: false },
};

const SIGN_TEXT: Record<Sign, string> = {
  negative: 'must be negative',
  positive: 'must be positive',
  'non-negative': 'must be zero or positive',
  any: '',
};

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
/** The canonical form we store: already UTC with milliseconds, so no Date round trip is needed. */
const CANONICAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const isTypeName = (t: unknown): t is MovementType => typeof t === 'string' && Object.hasOwn(RULES, t);

function fail(where: string, field: string, problem: string): never {
  throw new FlowreconError('BAD_FEED', `AgentFlow feed: ${where}: field "${field}": ${problem}`);
}

/** A short rendering of an offending value; long strings are cut so one bad page cannot flood the log. */
function shown(value: unknown): string {
  if (value === undefined) return 'missing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function micro(value: unknown, where: string, field: string): number {
  const v = tryParseFlowMicro(value);
  if (v === null) fail(where, field, `${shown(value)} is not a decimal string with up to 6 decimals`);
  return v;
}

/** ISO-8601 with a zone, normalised to the stored form (UTC, milliseconds, Z). */
function timestamp(value: unknown, where: string, field: string): string {
  if (typeof value === 'string') {
    if (CANONICAL_ISO.test(value)) {
      // Cheap range check for the common case; Date.parse rejects month 13, hour 25, ...
      if (!Number.isNaN(Date.parse(value))) return value;
    } else if (ISO.test(value)) {
      const ms = Date.parse(value);
      if (!Number.isNaN(ms)) return new Date(ms).toISOString();
    }
  }
  return fail(where, field, `${shown(value)} is not an ISO-8601 timestamp with a time zone`);
}

function nullableString(value: unknown, where: string, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') fail(where, field, `${shown(value)} must be a string or null`);
  return value;
}

function movement(raw: unknown, index: number): Movement {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail(`movement #${index + 1}`, 'movements', `entry ${shown(raw)} is not an object`);
  }
  const m = raw as Record<string, unknown>;
  const id = m.id;
  if (typeof id !== 'string' || id.length === 0) fail(`movement #${index + 1}`, 'id', `${shown(id)} must be a non-empty string`);
  const where = `movement ${id.length > 80 ? `${id.slice(0, 77)}...` : id}`;

  const type = m.type;
  if (!isTypeName(type)) fail(where, 'type', `${shown(type)} is not one of ${MOVEMENT_TYPES.join(', ')}`);
  const rule = RULES[type];

  const amountMicro = micro(m.amount, where, 'amount');
  const signOk =
    rule.sign === 'any' ||
    (rule.sign === 'negative' && amountMicro < 0) ||
    (rule.sign === 'positive' && amountMicro > 0) ||
    (rule.sign === 'non-negative' && amountMicro >= 0);
  if (!signOk) fail(where, 'amount', `${shown(m.amount)} ${SIGN_TEXT[rule.sign]} for a ${type}`);

  const callId = m.call_id;
  if (rule.needsCall) {
    if (typeof callId !== 'string' || callId.length === 0) fail(where, 'call_id', `${shown(callId)} must be a non-empty string for a ${type}`);
  } else if (callId !== null && callId !== undefined && (typeof callId !== 'string' || callId.length === 0)) {
    fail(where, 'call_id', `${shown(callId)} must be a non-empty string or null`);
  }

  return {
    id,
    type,
    amountMicro,
    balanceAfterMicro: micro(m.balance_after, where, 'balance_after'),
    callId: (callId as string | null | undefined) ?? null,
    agentSlug: nullableString(m.agent_slug, where, 'agent_slug'),
    callStatus: nullableString(m.call_status, where, 'call_status'),
    createdAt: timestamp(m.created_at, where, 'created_at'),
  };
}

/** Check one parsed 200 body against CONTRACT 2 and map it to a LedgerPage. Throws FlowreconError('BAD_FEED'). */
export function parseLedgerPage(body: unknown): LedgerPage {
  const where = 'page';
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new FlowreconError('BAD_FEED', `AgentFlow feed: the response body is not a JSON object (got ${shown(body)})`);
  }
  const b = body as Record<string, unknown>;
  if (typeof b.account_id !== 'string' || b.account_id.length === 0) fail(where, 'account_id', `${shown(b.account_id)} must be a non-empty string`);
  if (b.currency !== 'FLOW') fail(where, 'currency', `${shown(b.currency)} must be "FLOW"`);
  const balanceMicro = micro(b.balance, where, 'balance');
  const reservedMicro = micro(b.reserved, where, 'reserved');
  const asOf = timestamp(b.as_of, where, 'as_of');
  if (!Array.isArray(b.movements)) fail(where, 'movements', `${shown(b.movements)} must be an array`);
  const nextCursor = b.next_cursor;
  if (nextCursor !== null && (typeof nextCursor !== 'string' || nextCursor.length === 0)) {
    fail(where, 'next_cursor', `${shown(nextCursor)} must be a non-empty string or null`);
  }
  if (typeof b.has_more !== 'boolean') fail(where, 'has_more', `${shown(b.has_more)} must be true or false`);
  if (b.has_more && nextCursor === null) fail(where, 'next_cursor', 'is null although has_more is true');

  const list = b.movements as unknown[];
  const movements = new Array<Movement>(list.length);
  for (let i = 0; i < list.length; i++) movements[i] = movement(list[i], i);

  return {
    accountId: b.account_id,
    balanceMicro,
    reservedMicro,
    asOf,
    movements,
    nextCursor: nextCursor as string | null,
    hasMore: b.has_more,
  };
}
