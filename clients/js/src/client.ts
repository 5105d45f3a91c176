import { FngateError } from "./errors.js";
import { type RequestOptions, type RetryOptions, Transport, retryPolicy, sleep } from "./http.js";
import { sseData } from "./sse.js";
import type {
  FunctionCreate,
  FunctionCreated,
  FunctionInfo,
  FunctionList,
  Job,
  ListFunctionsQuery,
  LogLine,
} from "./types.js";

/** How a {@link FunctionClient} reaches its gateway. */
export interface FunctionClientOptions {
  /** The gateway's URL (default: `FNGATE_URL`, else `http://127.0.0.1:8080`). */
  baseUrl?: string;
  /** A bearer token, e.g. from `fngate token` (default: `FNGATE_TOKEN`). */
  token?: string;
  /** Another name for `token`, as the Function Service's SDK example calls it. */
  apiKey?: string;
  /** The project {@link FunctionClient.createFunction} creates in and
   * {@link FunctionClient.listFunctions} lists, unless a call names one. */
  project?: string;
  /** Another name for `project`, as the Function Service's SDK example calls it (a
   * workspace of that document is a project here). */
  workspaceId?: string;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /** Sending a 429 or 503 again after its `Retry-After`; `false` turns it off. */
  retry?: RetryOptions | false;
}

/** A function's id, name or `language_title` (`nodejs-hello`), as the API's `{ref}` takes. */
export type FunctionRef = string | number;

/** The body of `POST /api/v1/functions`, and `sourceCode` (the source text, as the Function
 * Service's SDK example sends it) standing for `code`. */
export type CreateFunctionInput = FunctionCreate & { sourceCode?: string };

/** Headers and options of one invoke. */
export interface InvokeOptions {
  /** The same key from the same caller within 24 h answers the first call's job. */
  idempotencyKey?: string;
  /** `X-Cache-Control`: `no-cache`, `no-store` or `max-age=N` (sync invokes). */
  cacheControl?: string;
  /** `X-Callback-URL`: the finished job is POSTed there, signed. */
  callbackUrl?: string;
  signal?: AbortSignal;
}

/** How long {@link FunctionClient.waitForJob} waits. */
export interface WaitOptions {
  /** Give up after this long (default 60 000 ms) with a `WAIT_TIMEOUT` {@link FngateError}. */
  timeoutMs?: number;
  /** The longest pause between two polls (default 1000 ms; the first polls come sooner). */
  intervalMs?: number;
  signal?: AbortSignal;
}

/** Which of a function's log lines: `since`/`until` are RFC 3339 times, `Date`s or durations
 * before now (`"10m"`, `"24h"`). */
export interface LogsQuery {
  since?: string | Date;
  until?: string | Date;
  /** The newest this many lines (1–1000, default 100; of a follow, the backlog sent first). */
  limit?: number;
  /** Only this job's lines (a follow then ends once that job has finished). */
  jobId?: string;
  signal?: AbortSignal;
}

const FINISHED: ReadonlySet<Job["status"]> = new Set(["success", "failed"]);

/**
 * A client of fngate's HTTP API (`/api/v1`, docs/api.md). Every method rejects with a
 * {@link FngateError} carrying the API's error code, status and details.
 */
export class FunctionClient {
  private readonly transport: Transport;
  private readonly project: string | undefined;

  constructor(options: FunctionClientOptions = {}) {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
    const baseUrl = options.baseUrl ?? env.FNGATE_URL ?? "http://127.0.0.1:8080";
    this.project = options.project ?? options.workspaceId;
    this.transport = new Transport({
      baseUrl: baseUrl.replace(/\/+$/, ""),
      token: options.token ?? options.apiKey ?? env.FNGATE_TOKEN,
      headers: options.headers ?? {},
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      retry: retryPolicy(options.retry),
    });
  }

  /** `POST /api/v1/functions`: creates a function (201). With `dependencies` its `status` is
   * `building` until the build ends. */
  async createFunction(input: CreateFunctionInput, options: { signal?: AbortSignal } = {}): Promise<FunctionCreated> {
    const { sourceCode, ...body } = input;
    if (sourceCode !== undefined) {
      if (body.code != null || body.source_code != null) {
        throw new TypeError("createFunction: give sourceCode or code/source_code, not both");
      }
      body.code = sourceCode;
    }
    if (this.project !== undefined && body.project === undefined) body.project = this.project;
    return this.transport.json("POST", "/api/v1/functions", { body, signal: options.signal });
  }

  /** `GET /api/v1/functions/{ref}`: the function with its code. */
  async getFunction(ref: FunctionRef, options: { signal?: AbortSignal } = {}): Promise<FunctionInfo> {
    return this.transport.json("GET", functionPath(ref), options);
  }

  /** `GET /api/v1/functions`: one page of functions (without their code), filtered. */
  async listFunctions(query: ListFunctionsQuery & { signal?: AbortSignal } = {}): Promise<FunctionList> {
    const { signal, ...filters } = query;
    const project = filters.project ?? this.project;
    return this.transport.json("GET", "/api/v1/functions", { query: { ...filters, project }, signal });
  }

  /** `DELETE /api/v1/functions/{ref}`: removes it, its versions and triggers (its jobs stay). */
  async deleteFunction(ref: FunctionRef, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.transport.send("DELETE", functionPath(ref), options);
  }

  /**
   * `POST /api/v1/functions/{ref}/invoke` with `data` as the event (`{}` when undefined):
   * the finished {@link Job} — also when the run failed (`status: "failed"`, `error` set).
   * A function whose `execution_type` is `async` answers its pending job instead.
   */
  async invokeFunction(ref: FunctionRef, data?: unknown, options: InvokeOptions = {}): Promise<Job> {
    return this.invoke(`${functionPath(ref)}/invoke`, data, options);
  }

  /** `POST /api/v1/functions/{ref}/invoke-async`: the job, `pending`; see {@link waitForJob}. */
  async invokeAsync(ref: FunctionRef, data?: unknown, options: InvokeOptions = {}): Promise<Job> {
    return this.invoke(`${functionPath(ref)}/invoke-async`, data, options);
  }

  /** `GET /api/v1/jobs/{id}`. */
  async getJob(jobId: string, options: { signal?: AbortSignal } = {}): Promise<Job> {
    return this.transport.json("GET", jobPath(jobId), options);
  }

  /** Polls the job until it has finished (`success` or `failed`) and answers it. */
  async waitForJob(job: string | Job, options: WaitOptions = {}): Promise<Job> {
    const jobId = typeof job === "string" ? job : job.id;
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const longest = options.intervalMs ?? 1000;
    for (let pause = Math.min(50, longest); ; pause = Math.min(pause * 2, longest)) {
      const current = await this.getJob(jobId, { signal: options.signal });
      if (FINISHED.has(current.status)) return current;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new FngateError({
          code: "WAIT_TIMEOUT",
          message: `job ${jobId} is still ${current.status} after ${options.timeoutMs ?? 60_000} ms`,
          status: 0,
          details: { job_id: jobId, job_status: current.status },
        });
      }
      await sleep(Math.min(pause, left), options.signal);
    }
  }

  /** `GET /api/v1/jobs/{id}/logs`: the lines the job's runs printed. */
  async getJobLogs(jobId: string, options: { signal?: AbortSignal } = {}): Promise<LogLine[]> {
    const body = await this.transport.json<{ logs: LogLine[] }>("GET", `${jobPath(jobId)}/logs`, options);
    return body.logs;
  }

  /** `GET /api/v1/functions/{ref}/logs`: the newest matching lines, oldest first. */
  async logs(ref: FunctionRef, query: LogsQuery = {}): Promise<LogLine[]> {
    const body = await this.transport.json<{ logs: LogLine[] }>(
      "GET", `${functionPath(ref)}/logs`, logsRequest(query, false));
    return body.logs;
  }

  /**
   * `GET /api/v1/functions/{ref}/logs?follow=true` (Server-Sent Events): the matching lines,
   * then each new one as it is printed. It ends when the server ends the stream (`until`
   * passed, or `jobId`'s job finished); otherwise stop it with `break` or the `signal`.
   */
  async *followLogs(ref: FunctionRef, query: LogsQuery = {}): AsyncGenerator<LogLine> {
    const response = await this.transport.send("GET", `${functionPath(ref)}/logs`, logsRequest(query, true));
    if (response.body === null) return;
    for await (const data of sseData(response.body)) yield JSON.parse(data) as LogLine;
  }

  /** Any other route of the API, e.g. `request("GET", "/api/v1/functions/hello/versions")`:
   * the answer's JSON, errors as {@link FngateError}. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return this.transport.json(method, path, options);
  }

  private async invoke(path: string, data: unknown, options: InvokeOptions): Promise<Job> {
    return this.transport.json("POST", path, {
      body: data === undefined ? {} : data,
      headers: {
        "Idempotency-Key": options.idempotencyKey,
        "X-Cache-Control": options.cacheControl,
        "X-Callback-URL": options.callbackUrl,
      },
      signal: options.signal,
    });
  }
}

function functionPath(ref: FunctionRef): string {
  return `/api/v1/functions/${encodeURIComponent(String(ref))}`;
}

function jobPath(jobId: string): string {
  return `/api/v1/jobs/${encodeURIComponent(jobId)}`;
}

function logsRequest(query: LogsQuery, follow: boolean): RequestOptions {
  const time = (value: string | Date | undefined) => (value instanceof Date ? value.toISOString() : value);
  return {
    query: {
      since: time(query.since),
      until: time(query.until),
      limit: query.limit,
      job_id: query.jobId,
      follow: follow ? "true" : undefined,
    },
    headers: follow ? { Accept: "text/event-stream" } : {},
    signal: query.signal,
  };
}
