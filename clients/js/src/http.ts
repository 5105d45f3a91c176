import { FngateError, errorFrom } from "./errors.js";

/** When a refused call is sent again: only when the gateway said when (`Retry-After`). */
export interface RetryOptions {
  /** How many times one call is sent again at most (default 2). */
  maxRetries?: number;
  /** A longer `Retry-After` is not waited for: the error is thrown at once (default 10 000). */
  maxDelayMs?: number;
  /** The statuses tried again (default 429 and 503: the API ran nothing for them). */
  statuses?: readonly number[];
}

/** A query parameter's value: arrays repeat the parameter, undefined and null leave it out. */
export type QueryValue = string | number | boolean | readonly string[] | undefined | null;

/** One request's parts beside its method and path. */
export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** Sent as JSON when defined. */
  body?: unknown;
  /** Extra headers; an undefined value is left out. */
  headers?: Record<string, string | undefined>;
  /** Aborts the call, its retries' waits included. */
  signal?: AbortSignal;
}

interface TransportInit {
  baseUrl: string;
  token: string | undefined;
  headers: Record<string, string>;
  fetch: typeof fetch;
  retry: Required<RetryOptions> | false;
}

const DEFAULT_RETRY: Required<RetryOptions> = { maxRetries: 2, maxDelayMs: 10_000, statuses: [429, 503] };

/** Resolves the retry option: `false` turns retries off, an object overrides the defaults. */
export function retryPolicy(option: RetryOptions | false | undefined): Required<RetryOptions> | false {
  return option === false ? false : { ...DEFAULT_RETRY, ...option };
}

/** Sends requests to one gateway: its URL, the token, the retry policy, errors as {@link FngateError}. */
export class Transport {
  constructor(private readonly init: TransportInit) {}

  /** The answer to `method path`, once it is a 2xx; anything else is thrown as a {@link FngateError}. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, options.query);
    const headers = this.headers(options);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    for (let attempt = 0; ; attempt++) {
      const response = await this.fetch(url, { method, headers, body, signal: options.signal });
      if (response.ok) return response;
      const error = await errorFrom(response);
      const delay = this.retryDelayMs(error, attempt);
      if (delay === undefined) throw error;
      await sleep(delay, options.signal);
    }
  }

  /** The JSON body of the answer to `method path` (undefined for a 204). */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new FngateError({
        code: "BAD_RESPONSE",
        message: `HTTP ${response.status} from ${method} ${path} is not JSON`,
        status: response.status,
        details: { body: text.slice(0, 1000) },
        requestId: response.headers.get("x-request-id") ?? undefined,
        cause,
      });
    }
  }

  private url(path: string, query: RequestOptions["query"]): string {
    const url = new URL(this.init.baseUrl + path);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value === undefined || value === null) continue;
      for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(item));
    }
    return url.toString();
  }

  private headers(options: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = { Accept: "application/json", ...this.init.headers };
    if (this.init.token) headers.Authorization = `Bearer ${this.init.token}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (value !== undefined) headers[name] = value;
    }
    return headers;
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.init.fetch(url, init);
    } catch (cause) {
      if (init.signal?.aborted) throw init.signal.reason;
      throw new FngateError({
        code: "CONNECTION_FAILED",
        message: `cannot reach the gateway at ${this.init.baseUrl}: ${(cause as Error).message}`,
        status: 0,
        cause,
      });
    }
  }

  private retryDelayMs(error: FngateError, attempt: number): number | undefined {
    const policy = this.init.retry;
    if (!policy || attempt >= policy.maxRetries || error.retryAfter === undefined) return undefined;
    if (!policy.statuses.includes(error.status)) return undefined;
    const delay = error.retryAfter * 1000;
    return delay <= policy.maxDelayMs ? delay : undefined;
  }
}

/** Waits `ms`; rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
