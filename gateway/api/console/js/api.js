// The gateway's HTTP API, as the console calls it: the token from sessionStorage as a
// bearer token, errors as ApiError carrying the API's error body (docs/api.md).

const TOKEN_KEY = "fngate.console.token";
// Beside the console's folder: /console/ → /api/v1/ (also under a proxy's path prefix).
const API = new URL("../api/v1/", document.baseURI);

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) { sessionStorage.setItem(TOKEN_KEY, value); },
  clear() { sessionStorage.removeItem(TOKEN_KEY); },
  /** The token's claims (read for display only: the gateway verifies it). */
  claims() {
    try {
      const part = (this.token ?? "").split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part));
    } catch {
      return {};
    }
  },
};

/** An answer of the API that is not a success, or no answer at all. */
export class ApiError extends Error {
  constructor(status, body, requestId) {
    const error = body?.error ?? {};
    super(error.message ?? `the gateway answered HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = error.code ?? `HTTP_${status}`;
    this.details = error.details ?? {};
    this.requestId = body?.request_id ?? requestId ?? null;
  }
}

function url(path, query) {
  const target = new URL(path.replace(/^\//, ""), API);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) target.searchParams.append(key, one);
  }
  return target;
}

async function send(method, path, {body, query, headers = {}, signal} = {}) {
  const init = {method, signal, headers: {Accept: "application/json", ...headers}};
  if (session.token) init.headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url(path, query), init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, {error: {code: "NETWORK_ERROR",
      message: `the gateway did not answer (${err.message})`}});
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page): the status says what there is to say.
  }
  return new ApiError(response.status, body, response.headers.get("X-Request-ID"));
}

/** `method path` → the parsed JSON body (null for 204). `body` may be a string (sent as is). */
export async function call(method, path, options = {}) {
  const response = await send(method, path, options);
  return response.status === 204 ? null : response.json();
}

/** Like call, with the response's status and headers: `{status, headers, data}`. */
export async function exchange(method, path, options = {}) {
  const response = await send(method, path, options);
  return {status: response.status, headers: response.headers,
          data: response.status === 204 ? null : await response.json()};
}

/**
 * A Server-Sent Events stream read with fetch (EventSource cannot send the Authorization
 * header): yields each event's `data` parsed as JSON; comments (keep-alives) are skipped.
 */
export async function* events(path, {query, signal} = {}) {
  const response = await send("GET", path, {query, signal, headers: {Accept: "text/event-stream"}});
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, "")).join("\n");
        if (data) yield JSON.parse(data);
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** A function's path segment. */
export function fn(name) {
  return `functions/${encodeURIComponent(name)}`;
}
