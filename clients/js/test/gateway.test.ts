// FunctionClient against a live gateway: FNGATE_URL and FNGATE_TOKEN (a token with
// write:functions, execute:all, read:functions and read:jobs, e.g. from `fngate token`).
// tests/e2e/test_js_client.py runs this file against `fngate serve`.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";

import { FngateError, type FunctionCreated, FunctionClient, type Job } from "@fngate/client";

const live = Boolean(process.env.FNGATE_URL && process.env.FNGATE_TOKEN);
const name = `js-client-${Date.now().toString(36)}`;
// The Function Service SDK example's function, as it sends it (runtime alias, handler form,
// sourceCode), printing a line for the logs.
const SOURCE = `
exports.handler = async (event) => {
  console.log("hello from " + event.message);
  if (event.fail) throw new Error("asked to fail");
  return {
    statusCode: 200,
    body: JSON.stringify({ message: 'Hello World', got: event.message })
  };
};
`;

describe("FunctionClient against a gateway", { skip: live ? false : "FNGATE_URL and FNGATE_TOKEN are not set" }, () => {
  const client = new FunctionClient();
  let fn: FunctionCreated;
  let asyncJob: Job;

  before(async () => {
    fn = await client.createFunction({ name, runtime: "nodejs18", handler: "index.handler", sourceCode: SOURCE });
  });
  after(async () => {
    if (fn) await client.deleteFunction(fn.id).catch(() => undefined);
  });

  test("createFunction normalizes the seed's fields; get and list find it", async () => {
    assert.equal(fn.name, name);
    assert.equal(fn.runtime, "nodejs");
    assert.equal(fn.handler, "handler");
    assert.equal(fn.language_title, `nodejs-${name}`);
    assert.equal((await client.getFunction(fn.id)).code, SOURCE);
    assert.equal((await client.getFunction(`nodejs-${name}`)).id, fn.id);
    const listed = await client.listFunctions({ per_page: 100 });
    assert.ok(listed.functions.some((f) => f.id === fn.id), `${name} not in ${JSON.stringify(listed)}`);
  });

  test("invokeFunction answers the finished job with the result", async () => {
    const job = await client.invokeFunction(fn.id, { message: "test" });
    assert.equal(job.status, "success", JSON.stringify(job));
    assert.equal(job.trigger, "invoke");
    assert.equal(job.function_id, fn.id);
    const result = job.result as { statusCode: number; body: string };
    assert.equal(result.statusCode, 200);
    assert.deepEqual(JSON.parse(result.body), { message: "Hello World", got: "test" });
    assert.equal(typeof job.duration, "number");
  });

  test("a run that fails is a failed job, not an exception", async () => {
    const job = await client.invokeFunction(name, { message: "boom", fail: true });
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "RUNTIME_ERROR");
    assert.match(String(job.error?.details.message ?? job.error?.message), /asked to fail/);
  });

  test("invokeAsync answers a pending job; waitForJob answers it finished", async () => {
    const pending = await client.invokeAsync(name, { message: "async" });
    assert.equal(pending.status, "pending");
    asyncJob = await client.waitForJob(pending, { timeoutMs: 60_000 });
    assert.equal(asyncJob.id, pending.id);
    assert.equal(asyncJob.status, "success", JSON.stringify(asyncJob));
    assert.deepEqual(JSON.parse((asyncJob.result as { body: string }).body), { message: "Hello World", got: "async" });
    assert.deepEqual(await client.getJob(pending.id), asyncJob);
  });

  test("the job's log line is in its logs, the function's logs and the follow stream", async () => {
    const messages = (lines: { message: string }[]) => lines.map((l) => l.message);
    assert.deepEqual(messages(await client.getJobLogs(asyncJob.id)), ["hello from async"]);
    assert.deepEqual(messages(await client.logs(name, { jobId: asyncJob.id })), ["hello from async"]);
    const all = await client.logs(fn.id, { since: "1h" });
    assert.ok(messages(all).includes("hello from test"), JSON.stringify(all));
    // With a finished job's id the server ends the stream once its lines are sent.
    const followed = [];
    for await (const line of client.followLogs(name, { jobId: asyncJob.id })) followed.push(line);
    assert.deepEqual(messages(followed), ["hello from async"]);
    assert.equal(followed[0]!.job_id, asyncJob.id);
  });

  test("an unknown function is an FngateError with the API's code, status and request id", async () => {
    const error = await client.getFunction("no-such-function").then(() => assert.fail("resolved"), (e: unknown) => e);
    assert.ok(error instanceof FngateError, String(error));
    assert.equal(error.code, "FUNCTION_NOT_FOUND");
    assert.equal(error.status, 404);
    assert.match(error.message, /no-such-function/);
    assert.match(error.requestId ?? "", /\S/);
    await assert.rejects(client.getJob(randomUUID()), { code: "JOB_NOT_FOUND", status: 404 });
  });

  test("a body the API refuses is INVALID_REQUEST naming the field", async () => {
    await assert.rejects(client.createFunction({ name: "9bad", runtime: "python", code: "x = 1" }),
      { code: "INVALID_REQUEST", status: 400, details: { field: "name", errors: [
        { path: "name", message: "string should match pattern '^[A-Za-z][A-Za-z0-9_-]{0,63}$'" }] } });
  });

  test("deleteFunction removes it", async () => {
    await client.deleteFunction(fn.id);
    await assert.rejects(client.getFunction(fn.id), { code: "FUNCTION_NOT_FOUND", status: 404 });
  });
});
