/**
 * Stable discrepancy ids: the same problem gets the same id in every run, so
 * its lifecycle (new, open, acknowledged, resolved, reopened) can follow it.
 * The identity is the code plus the ids the problem is about:
 * BALANCE_DRIFT the breaking movement; STALE_RESERVATION and UNBILLED_CALL the
 * call; ORPHAN_CHARGE the charge; DUPLICATE_CHARGE the doubly billed calls (a
 * third charge on the same call is still the same problem); the group codes
 * the group's calls and charges.
 */
import { createHash } from 'node:crypto';
import type { DiscrepancyType } from '../domain.js';

export function discrepancyId(type: DiscrepancyType, key: string): string {
  return `d_${createHash('sha256').update(`${type}\n${key}`).digest('hex').slice(0, 20)}`;
}

export function groupKey(callIds: readonly string[], chargeIds: readonly string[]): string {
  return `${callIds.join(';')}|${chargeIds.join(';')}`;
}
