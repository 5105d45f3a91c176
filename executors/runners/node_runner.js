// fngate's Node.js worker: loads one function and runs it once per call frame.
//
// Started as `node -e <this source> <read fd> <write fd>` (the source is passed
// inline so the worker user needs no access to the installation). Frames:
// 4-byte big-endian length + UTF-8 JSON; see executors/protocol.py.
'use strict';

const fs = require('fs');
const Module = require('module');
const net = require('net');
const path = require('path');
const util = require('util');

const RFD = Number(process.argv[process.argv.length - 2]);
const WFD = Number(process.argv[process.argv.length - 1]);
const BASE_ENV = Object.assign({}, process.env);
const TOP = Symbol.for('fngate.top');

function sendRaw(body) {
  const data = Buffer.allocUnsafe(4 + body.length);
  data.writeUInt32BE(body.length, 0);
  body.copy(data, 4);
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(WFD, data, off, data.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') process.exit(0);
    }
  }
}

function send(frame) {
  sendRaw(Buffer.from(JSON.stringify(frame), 'utf8'));
}

const logs = { limit: 64 * 1024, used: 0, truncated: false };

function emit(stream, line) {
  const size = Buffer.byteLength(line, 'utf8') + 1;
  if (logs.truncated || logs.used + size > logs.limit) {
    logs.truncated = true;
    return;
  }
  logs.used += size;
  send({ type: 'log', stream, message: line, ts: Date.now() / 1000 });
}

const partial = { stdout: '', stderr: '' };

function writeText(stream, text) {
  const lines = (partial[stream] + text).split('\n');
  partial[stream] = lines.pop();
  for (const line of lines) emit(stream, line);
  if (partial[stream].length > 8192) flushStream(stream);
}

function flushStream(stream) {
  if (partial[stream]) {
    const line = partial[stream];
    partial[stream] = '';
    emit(stream, line);
  }
}

function flushLogs() {
  flushStream('stdout');
  flushStream('stderr');
}

function hook(stream) {
  return function write(chunk, encoding, cb) {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    writeText(stream, text);
    if (typeof encoding === 'function') encoding();
    else if (typeof cb === 'function') cb();
    return true;
  };
}

process.stdout.write = hook('stdout');
process.stderr.write = hook('stderr');
const fmt = (args) => util.formatWithOptions({ colors: false }, ...args) + '\n';
console.log = (...a) => writeText('stdout', fmt(a));
console.info = console.log;
console.debug = console.log;
console.error = (...a) => writeText('stderr', fmt(a));
console.warn = console.error;
console.trace = (...a) => {
  const e = new Error(util.format(...a));
  writeText('stderr', 'Trace: ' + e.stack.split('\n').slice(1).join('\n') + '\n');
};

const state = {
  file: null,
  handler: null,
  loadError: null,
  maxResult: 6 * 1024 * 1024,
  current: null, // { finish } while a call runs
};

function errorInfo(err) {
  let type = 'Error';
  let message;
  let stack = null;
  if (err instanceof Error || (err && typeof err === 'object' && 'stack' in err)) {
    type = err.name || (err.constructor && err.constructor.name) || 'Error';
    message = err.message === undefined ? String(err) : String(err.message);
    stack = typeof err.stack === 'string' ? err.stack : null;
  } else {
    message = String(err);
  }
  let line = null;
  let column = null;
  if (stack && state.file) {
    const kept = [];
    const lines = stack.split('\n');
    let inFrames = false;
    for (const l of lines) {
      if (/^\s+at /.test(l)) {
        inFrames = true;
        if (l.includes(state.file)) kept.push(l);
      } else if (!inFrames) {
        kept.push(l);
      }
    }
    const esc = state.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const m = new RegExp(esc + ':(\\d+)(?::(\\d+))?').exec(stack);
    if (m) {
      line = Number(m[1]);
      column = m[2] ? Number(m[2]) : null;
    }
    stack = kept.join('\n');
  }
  return { type, message, stack_trace: stack, line, column };
}

function specialize(frame) {
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, BASE_ENV, frame.environment || {});
  logs.limit = frame.max_log_bytes || logs.limit;
  state.maxResult = frame.max_result_bytes || state.maxResult;
  const name = frame.handler || 'handler';
  const file = path.join(process.cwd(), 'index.js');
  state.file = file;
  let suffix = '';
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) {
    // A top-level `function handler(event) {}` is not exported: pick it up.
    suffix =
      '\n;try { if (typeof ' + name + " === 'function') module.exports[Symbol.for('fngate.top')] = " +
      name + '; } catch (e) {}\n';
  }
  fs.writeFileSync(file, frame.code + suffix, { mode: 0o600 });
  if (frame.dependencies_path) {
    // require() from the user's code looks in the published build first; packages
    // inside it resolve their own dependencies from their own location as usual.
    const deps = path.join(frame.dependencies_path, 'node_modules');
    const dir = path.dirname(file);
    const lookup = Module._nodeModulePaths;
    Module._nodeModulePaths = function nodeModulePaths(from) {
      const paths = lookup.call(this, from);
      if (path.resolve(from) === dir && !paths.includes(deps)) paths.unshift(deps);
      return paths;
    };
  }
  let mod;
  try {
    mod = require(file);
  } catch (err) {
    state.loadError = errorInfo(err);
    if (err instanceof SyntaxError && err.stack) {
      const m = /^(.*):(\d+)\n/.exec(err.stack);
      if (m && m[1] === file) state.loadError.line = Number(m[2]);
    }
    flushLogs();
    return;
  }
  flushLogs();
  let fn;
  if (mod && typeof mod[name] === 'function') fn = mod[name];
  else if (typeof mod === 'function' && name === 'handler') fn = mod;
  else if (mod && typeof mod[TOP] === 'function') fn = mod[TOP];
  if (!fn) {
    state.loadError = {
      type: 'HandlerNotFound',
      message: `handler '${name}' is not exported by index.js`,
      stack_trace: null,
      line: null,
      column: null,
    };
    return;
  }
  state.handler = fn;
}

function makeContext(c) {
  const ctx = Object.assign({}, c.extra || {});
  ctx.job_id = c.job_id;
  ctx.function_name = c.function_name;
  ctx.version = c.version;
  ctx.trigger = c.trigger;
  ctx.deadline_ms = c.deadline_ms;
  ctx.sub = c.sub === undefined ? null : c.sub;
  ctx.remaining_ms = () => Math.max(0, Math.floor(c.deadline_ms - Date.now()));
  ctx.getRemainingTimeInMillis = ctx.remaining_ms;
  return ctx;
}

function finishCall(cpu0, error, result) {
  state.current = null;
  flushLogs();
  const cpu = process.cpuUsage(cpu0);
  const meta = {
    type: 'result',
    ok: true,
    cpu_ms: (cpu.user + cpu.system) / 1000,
    max_rss: process.resourceUsage().maxRSS * 1024,
    logs_truncated: logs.truncated,
  };
  if (!error) {
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
      if (body === undefined) body = 'null';
    } catch (e) {
      error = { type: 'InvalidResult', message: 'result is not JSON-serializable: ' + e.message };
    }
    if (!error && Buffer.byteLength(body, 'utf8') > state.maxResult) {
      error = {
        type: 'ResultTooLarge',
        message: `result is ${Buffer.byteLength(body, 'utf8')} bytes, over the limit of ${state.maxResult}`,
      };
    }
    if (!error) {
      const head = JSON.stringify(meta).slice(0, -1) + ',"result":';
      sendRaw(Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from(body, 'utf8'), Buffer.from('}')]));
      return;
    }
  }
  meta.ok = false;
  meta.error = error;
  send(meta);
}

function call(frame) {
  logs.used = 0;
  logs.truncated = false;
  const cpu0 = process.cpuUsage();
  if (state.loadError) {
    finishCall(cpu0, state.loadError, null);
    return;
  }
  let done = false;
  const finish = (error, result) => {
    if (done) return;
    done = true;
    finishCall(cpu0, error, result);
  };
  state.current = { finish };
  let out;
  try {
    out = state.handler(frame.event, makeContext(frame.context || {}));
  } catch (err) {
    finish(errorInfo(err), null);
    return;
  }
  if (out && typeof out.then === 'function') {
    out.then(
      (value) => finish(null, value),
      (err) => finish(errorInfo(err), null),
    );
  } else {
    finish(null, out);
  }
}

function onStray(err) {
  if (state.current) state.current.finish(errorInfo(err), null);
  else writeText('stderr', 'Uncaught ' + (err && err.stack ? err.stack : String(err)) + '\n');
}
process.on('uncaughtException', onStray);
process.on('unhandledRejection', onStray);

let buf = Buffer.alloc(0);
// After loading code, a call sent right behind it waits one turn of the event loop, so
// the module's own promises and nextTicks settle first, as they would between frames.
let paused = false;
function drain() {
  while (!paused && buf.length >= 4) {
    const size = buf.readUInt32BE(0);
    if (buf.length < 4 + size) break;
    const frame = JSON.parse(buf.toString('utf8', 4, 4 + size));
    buf = buf.subarray(4 + size);
    if (frame.type === 'call') call(frame);
    else if (frame.type === 'specialize') {
      const began = process.hrtime.bigint();
      specialize(frame);
      const loadMs = Number(process.hrtime.bigint() - began) / 1e6;
      send({ type: 'specialized', error: state.loadError, load_ms: loadMs });
      paused = true;
      setImmediate(() => {
        paused = false;
        drain();
      });
    }
  }
}
const input = new net.Socket({ fd: RFD, readable: true, writable: false });
input.on('data', (chunk) => {
  buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
  drain();
});
input.on('end', () => process.exit(0));
input.on('error', () => process.exit(0));

send({ type: 'ready', pid: process.pid });
