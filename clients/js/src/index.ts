/**
 * The TypeScript client of fngate's HTTP API: {@link FunctionClient}, {@link FngateError},
 * and the API's types generated from its `/openapi.json` (`components`, `paths`,
 * `operations`, and names for the common ones).
 */

export { FunctionClient } from "./client.js";
export type {
  CreateFunctionInput,
  FunctionClientOptions,
  FunctionRef,
  InvokeOptions,
  LogsQuery,
  WaitOptions,
} from "./client.js";
export { FngateError } from "./errors.js";
export type { ClientErrorCode, FngateErrorInit } from "./errors.js";
export type { QueryValue, RequestOptions, RetryOptions } from "./http.js";
export type { components, operations, paths } from "./schema.js";
export type * from "./types.js";
