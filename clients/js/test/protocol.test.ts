// The client's own behaviour against a small local HTTP server that answers as the gateway
// would on the paths it cannot be made to take on demand: Retry-After, answers that are not
// the API's shape, an unreachable gateway, an SSE stream cut at odd places, a wait that
// times out.
import assert from "node:assert/strict";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";

import { FngateError, FunctionClient } from "@fngate/client";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const JOB = {
  id: "8d0e7a4c-8f6b-4d55-a0c5-2f3c3f1e9b10", function_id: 1, function_name: "echo", version: 1,
  trigger: "invoke", status: "success", result: { ok: true }, error: null,
  timestamp: "2026-01-01T00:00:00.000Z", started_at: null, finished_at: null, duration: 3,
  cold_start: false, attempts: 1, cached: false,
};

function errorBody(code: string, message: string, details: object = {}): string {
  return JSON.stringify({ error: { code, message, details }, request_id: "req-1" });
}

let handler: Handler = (_req, res) => res.end();
let seen: IncomingMessage[] = [];
let url = "";
const server = createServer((req, res) => {
  seen.push(req);
  handler(req, res);
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

function serve(...answers: Handler[]): void {
  seen = [];
  let next = 0;
  handler = (req, res) => answers[Math.min(next++, answers.length - 1)]!(req, res);
}

const unavailable: Handler = (_req, res) => {
  res.writeHead(503, { "Content-Type": "application/json", "Retry-After": "1" });
  res.end(errorBody("UNAVAILABLE", "database down", { component: "database" }));
};
const job: Handler = (_req, res) => {
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify(JOB));
};

describe("errors and retries", () => {
  test("a 503 is sent again after its Retry-After, then its answer is read", async () => {
    serve(unavailable, job);
    const client = new FunctionClient({ baseUrl: url, token: "t0k" });
    const started = performance.now();
    assert.deepEqual(await client.getJob(JOB.id), JOB);
    assert.ok(performance.now() - started >= 950, "waited the second Retry-After asked for");
    assert.deepEqual(seen.map((r) => [r.url, r.headers.authorization]),
      [[`/api/v1/jobs/${JOB.id}`, "Bearer t0k"], [`/api/v1/jobs/${JOB.id}`, "Bearer t0k"]]);
  });

  test("with retry off the 503 is an FngateError carrying the error body", async () => {
    serve(unavailable, job);
    const client = new FunctionClient({ baseUrl: url, retry: false });
    const error = await client.getJob(JOB.id).then(() => assert.fail("resolved"), (e: unknown) => e);
    assert.ok(error instanceof FngateError);
    assert.equal(error.code, "UNAVAILABLE");
    assert.equal(error.status, 503);
    assert.equal(error.message, "database down");
    assert.deepEqual(error.details, { component: "database" });
    assert.equal(error.requestId, "req-1");
    assert.equal(error.retryAfter, 1);
    assert.equal(seen.length, 1);
  });

  test("a Retry-After longer than maxDelayMs is not waited for", async () => {
    serve((_req, res) => {
      res.writeHead(429, { "Content-Type": "application/json", "Retry-After": "60" });
      res.end(errorBody("RATE_LIMITED", "too many requests", { limit: "60/minute" }));
    });
    const client = new FunctionClient({ baseUrl: url, retry: { maxDelayMs: 5000 } });
    await assert.rejects(client.invokeFunction("echo", { x: 1 }),
      { name: "FngateError", code: "RATE_LIMITED", status: 429, retryAfter: 60 });
    assert.equal(seen.length, 1);
  });

  test("an error without the API's body is BAD_RESPONSE with the text in details", async () => {
    serve((_req, res) => {
      res.writeHead(502, { "Content-Type": "text/html" });
      res.end("<html>bad gateway</html>");
    });
    const client = new FunctionClient({ baseUrl: url });
    await assert.rejects(client.getFunction("echo"),
      { code: "BAD_RESPONSE", status: 502, details: { body: "<html>bad gateway</html>" } });
  });

  test("an unreachable gateway is CONNECTION_FAILED with status 0", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = new FunctionClient({ baseUrl: `http://127.0.0.1:${port}` });
    await assert.rejects(client.listFunctions(), { code: "CONNECTION_FAILED", status: 0 });
  });
});

describe("requests", () => {
  test("invoke sends the event as JSON with the options as headers", async () => {
    const bodies: string[] = [];
    serve((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        bodies.push(body);
        job(req, res);
      });
    });
    const client = new FunctionClient({ baseUrl: `${url}/`, token: "t" });
    await client.invokeAsync("my fn", { message: "test" }, { idempotencyKey: "k-1", cacheControl: "no-store" });
    await client.invokeFunction(7);
    assert.deepEqual(seen.map((r) => r.url), ["/api/v1/functions/my%20fn/invoke-async", "/api/v1/functions/7/invoke"]);
    assert.deepEqual(bodies, ['{"message":"test"}', "{}"]);
    assert.equal(seen[0]!.headers["idempotency-key"], "k-1");
    assert.equal(seen[0]!.headers["x-cache-control"], "no-store");
    assert.equal(seen[0]!.headers["content-type"], "application/json");
    assert.equal(seen[1]!.headers["idempotency-key"], undefined);
  });

  test("listFunctions repeats label and takes the client's project by default", async () => {
    serve((_req, res) => res.end(JSON.stringify({ total: 0, page: 1, per_page: 20, functions: [] })));
    const client = new FunctionClient({ baseUrl: url, project: "billing" });
    await client.listFunctions({ label: ["team:a", "tier:1"], per_page: 5 });
    // The Function Service SDK example's workspaceId stands for the project.
    const workspace = new FunctionClient({ baseUrl: url, workspaceId: "ws-789" });
    await workspace.listFunctions();
    await workspace.listFunctions({ project: "other" });
    assert.deepEqual(seen.map((r) => r.url), [
      "/api/v1/functions?label=team%3Aa&label=tier%3A1&per_page=5&project=billing",
      "/api/v1/functions?project=ws-789",
      "/api/v1/functions?project=other",
    ]);
  });
});

describe("followLogs", () => {
  test("reads data events cut anywhere, skipping keep-alive comments", async () => {
    const lines = [1, 2, 3].map((n) => ({
      timestamp: "2026-01-01T00:00:00.000Z", job_id: JOB.id, stream: "stdout", message: `line ${n}`,
    }));
    const stream = `: keep-alive\n\n${lines.map((l) => `data: ${JSON.stringify(l)}\n\n`).join("")}`;
    serve((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      // Chunks of 7 bytes: events and lines are cut in the middle.
      const bytes = Buffer.from(stream);
      const write = (at: number): void => {
        if (at >= bytes.length) return void res.end();
        res.write(bytes.subarray(at, at + 7), () => write(at + 7));
      };
      write(0);
    });
    const client = new FunctionClient({ baseUrl: url });
    const got = [];
    for await (const line of client.followLogs("echo", { jobId: JOB.id, since: new Date(0) })) got.push(line);
    assert.deepEqual(got, lines);
    assert.equal(seen[0]!.url,
      `/api/v1/functions/echo/logs?since=1970-01-01T00%3A00%3A00.000Z&job_id=${JOB.id}&follow=true`);
    assert.equal(seen[0]!.headers.accept, "text/event-stream");
  });
});

describe("waitForJob", () => {
  test("a job still pending at the deadline is WAIT_TIMEOUT", async () => {
    serve((_req, res) => res.end(JSON.stringify({ ...JOB, status: "pending" })));
    const client = new FunctionClient({ baseUrl: url });
    await assert.rejects(client.waitForJob(JOB.id, { timeoutMs: 300, intervalMs: 50 }),
      { code: "WAIT_TIMEOUT", status: 0, details: { job_id: JOB.id, job_status: "pending" } });
    assert.ok(seen.length >= 2, "polled more than once");
  });
});
