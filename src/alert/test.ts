/** `flowrecon alerts test`: one test alert straight to the webhook, outside the state machine. */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { FlowreconError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Redactor } from '../secrets.js';
import { newEventId, type AlertPayload } from './state.js';
import { describeUrl, postWebhook, type DeliveryOutcome } from './webhook.js';

export async function sendTestAlert(deps: { config: Config; clock: Clock; log: Logger; redactor: Redactor }): Promise<DeliveryOutcome & { eventId: string }> {
  const { config } = deps;
  if (!config.alertWebhookUrl) throw new FlowreconError('CONFIG', 'invalid setting ALERT_WEBHOOK_URL: not set; there is nowhere to send the test alert');
  const at = deps.clock.now();
  const eventId = newEventId('TEST', at);
  const payload: AlertPayload = {
    text: 'flowrecon: TEST firing: test alert from `flowrecon alerts test`; alerts reach this webhook',
    alert: { type: 'TEST', state: 'firing', value: '', threshold: '', at: at.toISOString() },
  };
  const log = deps.log.child({ stage: 'alert' });
  log.info({ alert: payload.alert, eventId }, payload.text);
  const outcome = await postWebhook(
    { url: config.alertWebhookUrl, timeoutMs: config.alertTimeoutMs, maxRetries: config.alertMaxRetries, retryBaseMs: config.alertRetryBaseMs },
    payload,
    eventId,
  );
  if (!outcome.ok) {
    throw new FlowreconError('NETWORK', `test alert not delivered to ${describeUrl(config.alertWebhookUrl)} after ${outcome.attempts} attempt(s): ${deps.redactor.scrub(outcome.error ?? 'failed')}`);
  }
  log.info({ eventId, status: outcome.status, attempts: outcome.attempts, webhook: describeUrl(config.alertWebhookUrl) }, 'test alert delivered');
  return { ...outcome, eventId };
}
