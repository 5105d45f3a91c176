/** Names for the API's models, taken from the types generated from `/openapi.json`. */

import type { components, operations } from "./schema.js";

type Schemas = components["schemas"];

/** A function as `GET /api/v1/functions/{ref}` answers it. */
export type FunctionInfo = Schemas["Function"];
/** The body of `POST /api/v1/functions`. */
export type FunctionCreate = Schemas["FunctionCreate"];
/** What `POST /api/v1/functions` answers (the function, with the triggers it created). */
export type FunctionCreated = Schemas["FunctionCreated"];
/** One page of `GET /api/v1/functions`. */
export type FunctionList = Schemas["FunctionList"];
/** The filters and page of `GET /api/v1/functions`. */
export type ListFunctionsQuery = NonNullable<operations["listFunctions"]["parameters"]["query"]>;
/** One invocation's record. */
export type Job = Schemas["Job"];
/** A job's state: `pending`, `running`, `success` or `failed`. */
export type JobStatus = Job["status"];
/** One line a function printed. */
export type LogLine = Schemas["LogLine"];
/** Every error code the API answers with. */
export type ErrorCode = Schemas["ErrorCode"];
/** The API's error body: `{"error": {code, message, details}, "request_id"}`. */
export type ErrorBody = Schemas["Error"];
