/**
 * Secrets (session cookie, API keys) must never reach logs, reports, alerts or
 * error messages. Structured redaction by path catches known header fields;
 * this scrubber is the backstop: every line the logger writes and every error
 * message the CLI prints passes through it, so a secret that slips into an
 * unexpected field (a nested error's request headers, a URL) is still masked.
 */
import type { Config } from './config.js';

const MASK = '[REDACTED]';

export class Redactor {
  readonly #secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (!secret || secret.length < 4) return;
    this.#secrets.add(secret);
    // JSON-escaped and URL-encoded forms of the same secret.
    this.#secrets.add(JSON.stringify(secret).slice(1, -1));
    this.#secrets.add(encodeURIComponent(secret));
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.#secrets) {
      if (out.includes(s)) out = out.split(s).join(MASK);
    }
    return out;
  }

  get size(): number {
    return this.#secrets.size;
  }
}

export function redactorFor(config: Config): Redactor {
  const r = new Redactor();
  r.add(config.agentflowSession);
  r.add(config.agentflowApiKey);
  r.add(config.stripeApiKey);
  return r;
}
