/**
 * Settings (CONTRACT 5): read once at the edge from the environment, optionally
 * completed by a `--config FILE` JSON whose keys are the same names in lower
 * case (the environment wins), validated, then frozen. A bad value stops the
 * program before any work with a message naming the variable (exit 2).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import cron from 'node-cron';
import { z } from 'zod';
import { FlowreconError } from './errors.js';
import { parseDecimal, tryParseFlowMicro } from './money.js';

/** One period of the price list: in force for calls started on or after `from`. */
export interface PricingPeriod {
  readonly from: string; // ISO timestamp, UTC
  readonly flowUsdRate: string; // exact decimal string
  readonly markup: string;
  readonly agents: Readonly<Record<string, { readonly flowUsdRate?: string; readonly markup?: string }>>;
}

export interface Config {
  /** AgentFlow ledger API base URL, no trailing slash. */
  readonly agentflowBaseUrl: string;
  /** The `af_session` cookie value, if given directly. Secret. */
  readonly agentflowSession: string | undefined;
  /** File holding the cookie value; re-read at every run. */
  readonly agentflowSessionFile: string | undefined;
  /** Bearer key used instead of the cookie when set. Secret. */
  readonly agentflowApiKey: string | undefined;
  /** The account's request allowance per minute. */
  readonly agentflowRateLimitPerMin: number;
  /** Length of the rate-limit window, ms: 60000 (a minute); tests shrink it to match a fast stand-in. */
  readonly agentflowRateWindowMs: number;
  /** Movements asked for per page (1..500). */
  readonly agentflowPageSize: number;
  /** Headers and body timeout of one AgentFlow request, ms. */
  readonly agentflowTimeoutMs: number;
  /** Retries of one AgentFlow request after 5xx, resets, timeouts. */
  readonly agentflowMaxRetries: number;
  /** First backoff delay, ms (doubles each retry, with jitter). */
  readonly agentflowRetryBaseMs: number;

  readonly stripeApiKey: string | undefined;
  /** `{protocol, host, port}` for the SDK, from STRIPE_API_BASE; undefined = Stripe itself. */
  readonly stripeApiBase: { readonly protocol: 'http' | 'https'; readonly host: string; readonly port: number } | undefined;
  readonly stripeCallIdKey: string;
  readonly stripeMaxRps: number;
  readonly stripeTimeoutMs: number;
  readonly stripeMaxRetries: number;
  readonly stripeRetryBaseMs: number;
  /** Days back a first Stripe sync starts from. */
  readonly stripeSinceDays: number;

  readonly dbPath: string;
  readonly reportsDir: string;

  readonly flowUsdRate: string;
  readonly markup: string;
  readonly pricingFile: string | undefined;
  /** Parsed PRICING_FILE, sorted by `from`; empty when none is set. */
  readonly pricing: readonly PricingPeriod[];
  readonly currency: string;
  readonly priceToleranceCents: number;
  readonly billingGraceMinutes: number;
  readonly reservationTtlMinutes: number;

  /** Micro-FLOW; 0 = off. */
  readonly lowBalanceMicro: number;
  /** Hours; 0 = off. Exact decimal string. */
  readonly runwayHoursMin: string;
  readonly alertWebhookUrl: string | undefined;
  readonly alertRenotifyHours: number;
  readonly alertTimeoutMs: number;
  readonly alertMaxRetries: number;
  readonly alertRetryBaseMs: number;

  readonly scheduleLedger: string;
  readonly scheduleRun: string;
  readonly scheduleDaily: string;
  readonly timeZone: string;
  /** Seconds a job lease lasts without renewal. */
  readonly leaseTtlSeconds: number;
  /** Seconds a second process waits for a held lease before giving up. */
  readonly leaseWaitSeconds: number;

  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

type Env = Record<string, string | undefined>;

const nonEmpty = z.string().trim().min(1, 'must not be empty');
const intIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);
const decimalStr = (min: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, 'must be a plain decimal number such as 0.25')
    .refine((s) => Number(s) >= min, `must be at least ${min}`);
const httpUrl = z
  .string()
  .trim()
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');
const cronExpr = z
  .string()
  .trim()
  .refine((s) => cron.validate(s), 'must be a valid cron expression (5 or 6 fields)');
const timeZone = z
  .string()
  .trim()
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as UTC or Europe/Berlin');

/** Each setting: its variable, its default (as the text a user would write), its parser. */
const SETTINGS = {
  AGENTFLOW_BASE_URL: { def: 'https://api.agentflow.website', schema: httpUrl },
  AGENTFLOW_SESSION: { def: undefined, schema: nonEmpty },
  AGENTFLOW_SESSION_FILE: { def: undefined, schema: nonEmpty },
  AGENTFLOW_API_KEY: { def: undefined, schema: nonEmpty },
  AGENTFLOW_RATE_LIMIT_PER_MIN: { def: '240', schema: intIn(1, 1_000_000) },
  AGENTFLOW_RATE_WINDOW_MS: { def: '60000', schema: intIn(100, 3_600_000) },
  AGENTFLOW_PAGE_SIZE: { def: '500', schema: intIn(1, 500) },
  AGENTFLOW_TIMEOUT_MS: { def: '30000', schema: intIn(1, 600_000) },
  AGENTFLOW_MAX_RETRIES: { def: '5', schema: intIn(0, 20) },
  AGENTFLOW_RETRY_BASE_MS: { def: '500', schema: intIn(0, 60_000) },
  STRIPE_API_KEY: { def: undefined, schema: nonEmpty },
  STRIPE_API_BASE: { def: undefined, schema: httpUrl },
  STRIPE_CALL_ID_KEY: { def: 'agentflow_call_id', schema: nonEmpty.max(40, 'must be at most 40 characters (Stripe metadata key limit)') },
  STRIPE_MAX_RPS: { def: '10', schema: intIn(1, 100) },
  STRIPE_TIMEOUT_MS: { def: '30000', schema: intIn(1, 600_000) },
  STRIPE_MAX_RETRIES: { def: '5', schema: intIn(0, 20) },
  STRIPE_RETRY_BASE_MS: { def: '500', schema: intIn(0, 60_000) },
  STRIPE_SINCE_DAYS: { def: '90', schema: intIn(1, 3650) },
  FLOWRECON_DB: { def: './data/flowrecon.db', schema: nonEmpty },
  FLOWRECON_REPORTS_DIR: { def: './reports', schema: nonEmpty },
  FLOW_USD_RATE: { def: '0.01', schema: decimalStr(0) },
  MARKUP: { def: '0.25', schema: decimalStr(0) },
  PRICING_FILE: { def: undefined, schema: nonEmpty },
  CURRENCY: { def: 'usd', schema: z.string().trim().toLowerCase().regex(/^[a-z]{3}$/, 'must be a three-letter ISO currency code') },
  PRICE_TOLERANCE_CENTS: { def: '0', schema: intIn(0, 1_000_000) },
  BILLING_GRACE_MINUTES: { def: '30', schema: intIn(0, 525_600) },
  RESERVATION_TTL_MINUTES: { def: '60', schema: intIn(1, 525_600) },
  LOW_BALANCE_FLOW: {
    def: '0',
    schema: z
      .string()
      .trim()
      .refine((s) => (tryParseFlowMicro(s) ?? -1) >= 0, 'must be a non-negative FLOW amount with up to 6 decimals')
      .transform((s) => tryParseFlowMicro(s) as number),
  },
  RUNWAY_HOURS_MIN: { def: '0', schema: decimalStr(0) },
  ALERT_WEBHOOK_URL: { def: undefined, schema: httpUrl },
  ALERT_RENOTIFY_HOURS: { def: '24', schema: intIn(1, 8760) },
  ALERT_TIMEOUT_MS: { def: '10000', schema: intIn(1, 600_000) },
  ALERT_MAX_RETRIES: { def: '3', schema: intIn(0, 20) },
  ALERT_RETRY_BASE_MS: { def: '500', schema: intIn(0, 60_000) },
  SCHEDULE_LEDGER: { def: '*/5 * * * *', schema: cronExpr },
  SCHEDULE_RUN: { def: '*/15 * * * *', schema: cronExpr },
  SCHEDULE_DAILY: { def: '0 6 * * *', schema: cronExpr },
  FLOWRECON_TZ: { def: undefined, schema: timeZone },
  TZ: { def: undefined, schema: timeZone },
  FLOWRECON_LEASE_TTL_SECONDS: { def: '120', schema: intIn(1, 86_400) },
  FLOWRECON_LEASE_WAIT_SECONDS: { def: '10', schema: intIn(0, 3600) },
  LOG_LEVEL: { def: 'info', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) },
} as const satisfies Record<string, { def: string | undefined; schema: z.ZodType }>;

export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];
/** Settings whose values are secrets: never logged, never echoed in errors. */
export const SECRET_SETTINGS: readonly SettingName[] = ['AGENTFLOW_SESSION', 'AGENTFLOW_API_KEY', 'STRIPE_API_KEY'];

function configError(name: string, problem: string): FlowreconError {
  return new FlowreconError('CONFIG', `invalid setting ${name}: ${problem}`);
}

function readConfigFile(file: string): Env {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FlowreconError('CONFIG', `invalid setting --config: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new FlowreconError('CONFIG', `invalid setting --config: ${file} is not valid JSON (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FlowreconError('CONFIG', `invalid setting --config: ${file} must hold a JSON object`);
  }
  const out: Env = {};
  for (const [key, value] of Object.entries(parsed)) {
    const name = key.toUpperCase();
    if (!(name in SETTINGS)) throw new FlowreconError('CONFIG', `invalid setting --config: unknown key "${key}" in ${file}`);
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw configError(name, `must be a string or number in ${file}`);
    }
    out[name] = String(value);
  }
  return out;
}

function parseSetting<N extends SettingName>(name: N, raw: string | undefined): z.output<(typeof SETTINGS)[N]['schema']> | undefined {
  const spec = SETTINGS[name];
  const text = raw === undefined || raw === '' ? spec.def : raw;
  if (text === undefined) return undefined;
  const result = (spec.schema as z.ZodType).safeParse(text);
  if (!result.success) {
    const problem = result.error.issues[0]?.message ?? 'invalid value';
    // Secret values are never echoed back.
    const shown = (SECRET_SETTINGS as readonly string[]).includes(name) ? '' : ` (got "${text}")`;
    throw configError(name, `${problem}${shown}`);
  }
  return result.data as z.output<(typeof SETTINGS)[N]['schema']>;
}

const pricingEntry = z.object({
  from: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'from must be an ISO date or timestamp'),
  flow_usd_rate: z.union([z.string(), z.number()]).transform(String).pipe(decimalStr(0)),
  markup: z.union([z.string(), z.number()]).transform(String).pipe(decimalStr(0)),
  agents: z
    .record(
      z.string(),
      z.object({
        flow_usd_rate: z.union([z.string(), z.number()]).transform(String).pipe(decimalStr(0)).optional(),
        markup: z.union([z.string(), z.number()]).transform(String).pipe(decimalStr(0)).optional(),
      }),
    )
    .optional(),
});

function loadPricing(file: string): PricingPeriod[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw configError('PRICING_FILE', `cannot read ${file} as JSON (${(err as Error).message})`);
  }
  const result = z.array(pricingEntry).safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw configError('PRICING_FILE', `${file}: entry ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data
    .map((e) => ({
      from: new Date(Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(e.from) ? `${e.from}T00:00:00Z` : e.from)).toISOString(),
      flowUsdRate: e.flow_usd_rate,
      markup: e.markup,
      agents: Object.fromEntries(
        Object.entries(e.agents ?? {}).map(([slug, o]) => [slug, { flowUsdRate: o.flow_usd_rate, markup: o.markup }]),
      ),
    }))
    .sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
}

function parseStripeBase(url: string | undefined): Config['stripeApiBase'] {
  if (url === undefined) return undefined;
  const u = new URL(url);
  const protocol = u.protocol === 'http:' ? 'http' : 'https';
  const port = u.port ? Number(u.port) : protocol === 'http' ? 80 : 443;
  return { protocol, host: u.hostname, port };
}

export interface LoadConfigOptions {
  env?: Env;
  configFile?: string | undefined;
  cwd?: string;
}

/** Build the frozen Config. Throws FlowreconError('CONFIG') naming the first bad setting. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const fromFile = options.configFile ? readConfigFile(resolve(cwd, options.configFile)) : {};
  const raw = (name: SettingName): string | undefined => {
    const v = env[name];
    return v !== undefined && v !== '' ? v : fromFile[name];
  };
  const get = <N extends SettingName>(name: N) => parseSetting(name, raw(name));
  const must = <T>(v: T | undefined): T => v as T;

  const pricingFile = get('PRICING_FILE');
  const rate = must(get('FLOW_USD_RATE'));
  const markup = must(get('MARKUP'));
  parseDecimal(rate);
  parseDecimal(markup);

  const config: Config = {
    agentflowBaseUrl: must(get('AGENTFLOW_BASE_URL')).replace(/\/+$/, ''),
    agentflowSession: get('AGENTFLOW_SESSION'),
    agentflowSessionFile: get('AGENTFLOW_SESSION_FILE'),
    agentflowApiKey: get('AGENTFLOW_API_KEY'),
    agentflowRateLimitPerMin: must(get('AGENTFLOW_RATE_LIMIT_PER_MIN')),
    agentflowRateWindowMs: must(get('AGENTFLOW_RATE_WINDOW_MS')),
    agentflowPageSize: must(get('AGENTFLOW_PAGE_SIZE')),
    agentflowTimeoutMs: must(get('AGENTFLOW_TIMEOUT_MS')),
    agentflowMaxRetries: must(get('AGENTFLOW_MAX_RETRIES')),
    agentflowRetryBaseMs: must(get('AGENTFLOW_RETRY_BASE_MS')),
    stripeApiKey: get('STRIPE_API_KEY'),
    stripeApiBase: parseStripeBase(get('STRIPE_API_BASE')),
    stripeCallIdKey: must(get('STRIPE_CALL_ID_KEY')),
    stripeMaxRps: must(get('STRIPE_MAX_RPS')),
    stripeTimeoutMs: must(get('STRIPE_TIMEOUT_MS')),
    stripeMaxRetries: must(get('STRIPE_MAX_RETRIES')),
    stripeRetryBaseMs: must(get('STRIPE_RETRY_BASE_MS')),
    stripeSinceDays: must(get('STRIPE_SINCE_DAYS')),
    dbPath: resolve(cwd, must(get('FLOWRECON_DB'))),
    reportsDir: resolve(cwd, must(get('FLOWRECON_REPORTS_DIR'))),
    flowUsdRate: rate,
    markup,
    pricingFile,
    pricing: pricingFile ? loadPricing(resolve(cwd, pricingFile)) : [],
    currency: must(get('CURRENCY')),
    priceToleranceCents: must(get('PRICE_TOLERANCE_CENTS')),
    billingGraceMinutes: must(get('BILLING_GRACE_MINUTES')),
    reservationTtlMinutes: must(get('RESERVATION_TTL_MINUTES')),
    lowBalanceMicro: must(get('LOW_BALANCE_FLOW')),
    runwayHoursMin: must(get('RUNWAY_HOURS_MIN')),
    alertWebhookUrl: get('ALERT_WEBHOOK_URL'),
    alertRenotifyHours: must(get('ALERT_RENOTIFY_HOURS')),
    alertTimeoutMs: must(get('ALERT_TIMEOUT_MS')),
    alertMaxRetries: must(get('ALERT_MAX_RETRIES')),
    alertRetryBaseMs: must(get('ALERT_RETRY_BASE_MS')),
    scheduleLedger: must(get('SCHEDULE_LEDGER')),
    scheduleRun: must(get('SCHEDULE_RUN')),
    scheduleDaily: must(get('SCHEDULE_DAILY')),
    timeZone: get('FLOWRECON_TZ') ?? get('TZ') ?? 'UTC',
    leaseTtlSeconds: must(get('FLOWRECON_LEASE_TTL_SECONDS')),
    leaseWaitSeconds: must(get('FLOWRECON_LEASE_WAIT_SECONDS')),
    logLevel: must(get('LOG_LEVEL')),
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Defaults for tests and the demo: the same as an empty environment. */
export function configFor(env: Env, cwd?: string): Config {
  return loadConfig({ env, ...(cwd ? { cwd } : {}) });
}

/** The session cookie for this run: the file wins over the variable, and is re-read every call. */
export function readSessionToken(config: Config): string | undefined {
  if (config.agentflowSessionFile) {
    let text: string;
    try {
      text = readFileSync(config.agentflowSessionFile, 'utf8');
    } catch (err) {
      throw new FlowreconError(
        'CONFIG',
        `invalid setting AGENTFLOW_SESSION_FILE: cannot read ${config.agentflowSessionFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    const token = text.trim();
    if (!token) throw new FlowreconError('CONFIG', `invalid setting AGENTFLOW_SESSION_FILE: ${config.agentflowSessionFile} is empty`);
    return token;
  }
  return config.agentflowSession;
}
