//! fngate's Rust runtime: linked into every Rust function's binary.
//!
//! The function's file is included at the root of a small `main.rs` that glob-imports
//! `fngate_runtime::prelude::*` (so `Context`, `Value` and `json!` are in scope without
//! an import) and calls `fngate_runtime::run(handler)`. The binary is started as
//! `<binary> <read fd> <write fd>` and speaks the worker frames of executors/protocol.py:
//! 4-byte big-endian length + UTF-8 JSON. Only std and serde_json; the few libc calls
//! are declared here (std links libc anyway).

use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::fmt::Display;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::unix::io::FromRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a handler's file gets without an import.
pub mod prelude {
    pub use crate::Context;
    pub use serde_json::{json, Value};
}

/// The call's facts: who called, which function, until when.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub job_id: String,
    pub function_name: String,
    pub version: i64,
    pub trigger: String,
    /// Epoch milliseconds.
    pub deadline_ms: i64,
    pub sub: Option<String>,
    /// Anything else the call carries (a session's context).
    pub extra: Map<String, Value>,
}

impl Context {
    /// How long the call may still run, in milliseconds.
    pub fn remaining_ms(&self) -> i64 {
        (self.deadline_ms - now_ms()).max(0)
    }

    fn from_value(v: &Value) -> Context {
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Context {
            job_id: text("job_id"),
            function_name: text("function_name"),
            version: v.get("version").and_then(Value::as_i64).unwrap_or(0),
            trigger: text("trigger"),
            deadline_ms: v.get("deadline_ms").and_then(Value::as_i64).unwrap_or(0),
            sub: v.get("sub").and_then(Value::as_str).map(str::to_string),
            extra: v.get("extra").and_then(Value::as_object).cloned().unwrap_or_default(),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A handler's error as the job shows it.
pub struct Failure {
    kind: String,
    message: String,
    line: Option<u32>,
    column: Option<u32>,
    stack: Option<String>,
}

/// What a handler may return: `Result<T, E>` with a serializable `T` and a displayable `E`.
pub trait IntoOutcome {
    fn into_outcome(self) -> Result<Value, Failure>;
}

impl<T: serde::Serialize, E: Display> IntoOutcome for Result<T, E> {
    fn into_outcome(self) -> Result<Value, Failure> {
        match self {
            Ok(v) => serde_json::to_value(v).map_err(|e| Failure {
                kind: "InvalidResult".into(),
                message: format!("result is not JSON-serializable: {}", e),
                line: None,
                column: None,
                stack: None,
            }),
            Err(e) => Err(Failure {
                kind: "Error".into(),
                message: e.to_string(),
                line: None,
                column: None,
                stack: None,
            }),
        }
    }
}

/// The handler forms: `fn(Value, &Context) -> R` and `fn(Value) -> R`.
pub trait Handler<Form> {
    fn call(&self, event: Value, ctx: &Context) -> Result<Value, Failure>;
}

pub struct WithContext;
pub struct EventOnly;

impl<F, R> Handler<WithContext> for F
where
    F: Fn(Value, &Context) -> R,
    R: IntoOutcome,
{
    fn call(&self, event: Value, ctx: &Context) -> Result<Value, Failure> {
        self(event, ctx).into_outcome()
    }
}

impl<F, R> Handler<EventOnly> for F
where
    F: Fn(Value) -> R,
    R: IntoOutcome,
{
    fn call(&self, event: Value, _ctx: &Context) -> Result<Value, Failure> {
        self(event).into_outcome()
    }
}

// --- libc ----------------------------------------------------------------------------

#[repr(C)]
struct Timeval {
    sec: i64,
    usec: i64,
}

#[repr(C)]
struct Rusage {
    utime: Timeval,
    stime: Timeval,
    maxrss: i64,
    rest: [i64; 13],
}

extern "C" {
    fn pipe2(fds: *mut i32, flags: i32) -> i32;
    fn dup2(old: i32, new: i32) -> i32;
    fn close(fd: i32) -> i32;
    fn fcntl(fd: i32, cmd: i32, ...) -> i32;
    fn read(fd: i32, buf: *mut u8, n: usize) -> isize;
    fn poll(fds: *mut PollFd, n: u64, timeout: i32) -> i32;
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

const O_CLOEXEC: i32 = 0o2000000;
const F_SETFD: i32 = 2;
const FD_CLOEXEC: i32 = 1;
const F_SETFL: i32 = 4;
const O_NONBLOCK: i32 = 0o4000;
const EINTR: i32 = 4;
const POLLIN: i16 = 1;

#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

fn usage() -> (f64, i64) {
    let mut cpu = 0.0;
    let mut rss = 0;
    for who in [0, -1] {
        // RUSAGE_SELF, RUSAGE_CHILDREN
        let mut u = Rusage { utime: Timeval { sec: 0, usec: 0 }, stime: Timeval { sec: 0, usec: 0 }, maxrss: 0, rest: [0; 13] };
        if unsafe { getrusage(who, &mut u) } == 0 {
            cpu += u.utime.sec as f64 + u.utime.usec as f64 / 1e6 + u.stime.sec as f64 + u.stime.usec as f64 / 1e6;
            rss = rss.max(u.maxrss);
        }
    }
    (cpu, rss * 1024)
}

// --- frames --------------------------------------------------------------------------

static OUT: Mutex<Option<File>> = Mutex::new(None);

fn send_raw(body: &[u8]) {
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(body);
    let mut out = OUT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = out.as_mut() {
        if f.write_all(&buf).is_err() {
            std::process::exit(0); // the gateway went away
        }
    }
}

fn send(frame: &Value) {
    send_raw(frame.to_string().as_bytes());
}

fn recv(input: &mut BufReader<File>) -> Value {
    let mut head = [0u8; 4];
    if input.read_exact(&mut head).is_err() {
        std::process::exit(0);
    }
    let mut body = vec![0u8; u32::from_be_bytes(head) as usize];
    if input.read_exact(&mut body).is_err() {
        std::process::exit(0);
    }
    serde_json::from_slice(&body).unwrap_or_else(|_| std::process::exit(3))
}

// --- logs ----------------------------------------------------------------------------

struct Logs {
    limit: usize,
    used: usize,
    truncated: bool,
}

static LOGS: Mutex<Logs> = Mutex::new(Logs { limit: 64 * 1024, used: 0, truncated: false });

fn emit(stream: &str, line: &[u8]) {
    {
        let mut logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
        let size = line.len() + 1;
        if logs.truncated || logs.used + size > logs.limit {
            logs.truncated = true;
            return;
        }
        logs.used += size;
    }
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let message = String::from_utf8_lossy(line);
    send(&json!({"type": "log", "stream": stream, "message": message, "ts": ts}));
}

/// The read end of the pipe fd 1 or 2 writes to. Whoever holds its lock drains it: the
/// reader thread while the call runs (woken by poll when there is something to read),
/// the call itself once the handler returned. So every line written before the handler
/// returned is sent before the call's result, and a call that printed nothing costs one
/// read that finds the pipe empty, no round trip.
struct Stream {
    name: &'static str,
    fd: i32,
    partial: Vec<u8>,
}

impl Stream {
    /// Read what the pipe holds now and send its whole lines (with `last`, the partial
    /// line too); true at end of file. At most `budget` bytes: a child of the function
    /// that never stops writing must not hold the call.
    fn drain(&mut self, last: bool, mut budget: usize) -> bool {
        let mut buf = [0u8; 8192];
        let mut eof = false;
        while budget > 0 {
            let n = unsafe { read(self.fd, buf.as_mut_ptr(), buf.len()) };
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(EINTR) {
                continue;
            }
            if n <= 0 {
                eof = n == 0;
                break;
            }
            budget = budget.saturating_sub(n as usize);
            self.lines(&buf[..n as usize]);
        }
        if last && !self.partial.is_empty() {
            emit(self.name, &self.partial);
            self.partial.clear();
        }
        eof
    }

    fn lines(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                None => {
                    self.partial.extend_from_slice(data);
                    if self.partial.len() >= 8192 {
                        emit(self.name, &self.partial);
                        self.partial.clear();
                    }
                    return;
                }
                Some(i) => {
                    if self.partial.is_empty() {
                        emit(self.name, &data[..i]);
                    } else {
                        self.partial.extend_from_slice(&data[..i]);
                        emit(self.name, &self.partial);
                        self.partial.clear();
                    }
                    data = &data[i + 1..];
                }
            }
        }
    }
}

static STREAMS: [Mutex<Option<Stream>>; 2] = [Mutex::new(None), Mutex::new(None)];

/// Point `fd` at a pipe whose lines become log frames of `stream`.
fn capture(slot: usize, fd: i32, stream: &'static str) {
    let mut p = [0i32; 2];
    unsafe {
        if pipe2(p.as_mut_ptr(), O_CLOEXEC) != 0 || dup2(p[1], fd) < 0 {
            std::process::exit(4);
        }
        close(p[1]);
        // Only the read end is non-blocking (its own open file): `fd` stays blocking.
        if fcntl(p[0], F_SETFL, O_NONBLOCK) != 0 {
            std::process::exit(4);
        }
    }
    *STREAMS[slot].lock().unwrap_or_else(|e| e.into_inner()) =
        Some(Stream { name: stream, fd: p[0], partial: Vec::new() });
    let rfd = p[0];
    std::thread::spawn(move || loop {
        let mut pfd = PollFd { fd: rfd, events: POLLIN, revents: 0 };
        if unsafe { poll(&mut pfd, 1, -1) } < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(EINTR) {
                continue;
            }
            return;
        }
        let mut guard = STREAMS[slot].lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = guard.as_mut() {
            if s.drain(false, 1 << 20) {
                return;
            }
        }
    });
}

/// Send every line printed before this was called.
fn flush_logs() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    for slot in &STREAMS {
        if let Some(s) = slot.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            s.drain(true, 1 << 20);
        }
    }
}

// --- calls ---------------------------------------------------------------------------

thread_local! {
    static PANIC: RefCell<Option<(String, Option<(u32, u32)>)>> = RefCell::new(None);
}

fn user_location(file: &str) -> bool {
    file == "handler.rs" || file.ends_with("/handler.rs")
}

fn panic_failure(payload: Box<dyn std::any::Any + Send>) -> Failure {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    };
    let location = PANIC.with(|p| p.borrow_mut().take()).and_then(|(_, at)| at);
    let stack = location.map(|(l, c)| format!("panic: {}\n  at handler.rs:{}:{}", message, l, c));
    Failure {
        kind: "Panic".into(),
        message,
        line: location.map(|(l, _)| l),
        column: location.map(|(_, c)| c),
        stack,
    }
}

fn error_value(f: &Failure) -> Value {
    json!({"type": f.kind, "message": f.message, "stack_trace": f.stack,
           "line": f.line, "column": f.column})
}

fn specialize(frame: &Value, base_env: &[(String, String)]) {
    for (k, _) in std::env::vars_os() {
        std::env::remove_var(k);
    }
    for (k, v) in base_env {
        std::env::set_var(k, v);
    }
    if let Some(env) = frame.get("environment").and_then(Value::as_object) {
        for (k, v) in env {
            if let Some(v) = v.as_str() {
                if !k.is_empty() && !k.contains('=') && !k.contains('\0') && !v.contains('\0') {
                    std::env::set_var(k, v);
                }
            }
        }
    }
    if let Some(n) = frame.get("max_log_bytes").and_then(Value::as_u64) {
        LOGS.lock().unwrap_or_else(|e| e.into_inner()).limit = n as usize;
    }
    send(&json!({"type": "specialized", "error": null, "load_ms": 0}));
}

/// Run the worker loop with `handler` (called by the generated `main`).
pub fn run<Form, H: Handler<Form>>(handler: H) {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: a fngate worker, started by the gateway");
        std::process::exit(2);
    }
    let rfd: i32 = args[args.len() - 2].parse().unwrap_or(-1);
    let wfd: i32 = args[args.len() - 1].parse().unwrap_or(-1);
    if rfd < 0 || wfd < 0 {
        std::process::exit(2);
    }
    unsafe {
        fcntl(rfd, F_SETFD, FD_CLOEXEC);
        fcntl(wfd, F_SETFD, FD_CLOEXEC);
    }
    let mut input = BufReader::with_capacity(1 << 16, unsafe { File::from_raw_fd(rfd) });
    *OUT.lock().unwrap() = Some(unsafe { File::from_raw_fd(wfd) });
    capture(0, 1, "stdout");
    capture(1, 2, "stderr");
    // The panic's place, kept for the error; nothing printed (the error says it).
    panic::set_hook(Box::new(|info| {
        let at = info.location().filter(|l| user_location(l.file())).map(|l| (l.line(), l.column()));
        PANIC.with(|p| *p.borrow_mut() = Some((String::new(), at)));
    }));
    let base_env: Vec<(String, String)> = std::env::vars().collect();
    let mut max_result: usize = 6 * 1024 * 1024;
    send(&json!({"type": "ready", "pid": std::process::id()}));
    loop {
        let frame = recv(&mut input);
        match frame.get("type").and_then(Value::as_str) {
            Some("specialize") => {
                if let Some(n) = frame.get("max_result_bytes").and_then(Value::as_u64) {
                    max_result = n as usize;
                }
                specialize(&frame, &base_env);
            }
            Some("call") => {
                {
                    let mut logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
                    logs.used = 0;
                    logs.truncated = false;
                }
                let (cpu0, _) = usage();
                let ctx = Context::from_value(frame.get("context").unwrap_or(&Value::Null));
                let event = frame.get("event").cloned().unwrap_or(Value::Null);
                let outcome = panic::catch_unwind(AssertUnwindSafe(|| handler.call(event, &ctx)))
                    .unwrap_or_else(|p| Err(panic_failure(p)));
                let mut body = None;
                let mut failure = None;
                match outcome {
                    Ok(value) => {
                        let text = value.to_string();
                        if text.len() > max_result {
                            failure = Some(Failure {
                                kind: "ResultTooLarge".into(),
                                message: format!("result is {} bytes, over the limit of {}", text.len(), max_result),
                                line: None, column: None, stack: None,
                            });
                        } else {
                            body = Some(text);
                        }
                    }
                    Err(f) => failure = Some(f),
                }
                flush_logs();
                let (cpu1, rss) = usage();
                let truncated = LOGS.lock().unwrap_or_else(|e| e.into_inner()).truncated;
                let mut meta = json!({"type": "result", "ok": failure.is_none(),
                    "cpu_ms": (cpu1 - cpu0) * 1000.0, "max_rss": rss, "logs_truncated": truncated});
                match (failure, body) {
                    (Some(f), _) => {
                        meta["error"] = error_value(&f);
                        // After a panic the process state is unknown: the gateway replaces it.
                        meta["retire"] = json!(f.kind == "Panic");
                        send(&meta);
                    }
                    (None, Some(text)) => {
                        let head = meta.to_string();
                        let mut out = Vec::with_capacity(head.len() + text.len() + 12);
                        out.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
                        out.extend_from_slice(b",\"result\":");
                        out.extend_from_slice(text.as_bytes());
                        out.push(b'}');
                        send_raw(&out);
                    }
                    (None, None) => unreachable!(),
                }
            }
            _ => {}
        }
    }
}
