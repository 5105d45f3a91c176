import type { ErrorCode } from "./types.js";

/** Codes this client gives to failures that are not an error body of the API. */
export type ClientErrorCode =
  /** The gateway could not be reached (`cause` holds the network error); `status` is 0. */
  | "CONNECTION_FAILED"
  /** An answer that is not the API's shape (an error without the error body, or a success
   * that is not JSON), e.g. from a proxy in front of the gateway. */
  | "BAD_RESPONSE"
  /** {@link FunctionClient.waitForJob} ran out of time before the job finished; `status` is 0. */
  | "WAIT_TIMEOUT";

/** What {@link FngateError} is built from. */
export interface FngateErrorInit {
  code: ErrorCode | ClientErrorCode;
  message: string;
  status: number;
  details?: Record<string, unknown>;
  requestId?: string;
  retryAfter?: number;
  cause?: unknown;
}

/**
 * Every failure of a {@link FunctionClient} call: the API's error body (`code`, `message`,
 * `details`, `request_id`) with the HTTP status, or one of the client's own
 * {@link ClientErrorCode}s. An aborted call rejects with the `AbortSignal`'s reason instead.
 */
export class FngateError extends Error {
  /** The API's code (`FUNCTION_NOT_FOUND`, `INVALID_REQUEST`, …) or a {@link ClientErrorCode}. */
  readonly code: ErrorCode | ClientErrorCode;
  /** The HTTP status; 0 when there was no answer. */
  readonly status: number;
  /** The error body's `details` (`field`, `errors`, `required_scope`, …); `{}` when none. */
  readonly details: Record<string, unknown>;
  /** The error body's `request_id` (or the `X-Request-ID` header). */
  readonly requestId: string | undefined;
  /** Seconds the gateway asked to wait (`Retry-After`), when it said. */
  readonly retryAfter: number | undefined;

  constructor(init: FngateErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "FngateError";
    this.code = init.code;
    this.status = init.status;
    this.details = init.details ?? {};
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
  }
}

/** The error a non-2xx answer stands for: its error body when it has one. */
export async function errorFrom(response: Response): Promise<FngateError> {
  const text = await response.text();
  const retryAfter = retryAfterSeconds(response.headers.get("retry-after"));
  const headerId = response.headers.get("x-request-id") ?? undefined;
  const body = parseJson(text);
  const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  if (isRecord(body) && error && typeof error.code === "string" && typeof error.message === "string") {
    return new FngateError({
      code: error.code as ErrorCode,
      message: error.message,
      status: response.status,
      details: isRecord(error.details) ? error.details : {},
      requestId: typeof body.request_id === "string" ? body.request_id : headerId,
      retryAfter,
    });
  }
  return new FngateError({
    code: "BAD_RESPONSE",
    message: `HTTP ${response.status} ${response.statusText} without the API's error body`,
    status: response.status,
    details: { body: text.slice(0, 1000) },
    requestId: headerId,
    retryAfter,
  });
}

/**
 * `Retry-After` in seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when
 * absent or unreadable.
 */
export function retryAfterSeconds(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
