"""Go and Rust functions in the worker pools: compiled at deploy, then run like the others.

One function per language does most of the work (its ``op`` picks a behaviour), compiled
once for the module; the handler forms and compile errors each compile a small file.
Needs the toolchains (deploy/system-packages.sh): skipped without them, except under
CI=true, where they fail.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from typing import Any

import pytest
import pytest_asyncio

from executors import BuildResult, CodeSpec, WorkerPools
from tests.conftest import IN_CI, sleepers, wait_for
from tests.integration.test_executor_runs import MAX_LOG_BYTES, ctx, pools, run

__all__ = ["pools"]  # the fixture, shared with the Python and Node.js runs

COMPILED = ["go", "rust"]
_ids = itertools.count(5000)

GO_SINK = """package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var token = fmt.Sprint(time.Now().UnixNano())

func Handler(ctx context.Context, event map[string]any) (any, error) {
	info, _ := CallInfoFrom(ctx)
	switch event["op"] {
	case "print":
		fmt.Println("first line")
		fmt.Fprintln(os.Stderr, "to stderr")
		fmt.Print("partial ")
		fmt.Println("end", 42)
		return "result only", nil
	case "panic":
		panic(fmt.Sprintf("boom %v", event["n"]))
	case "fail":
		return nil, errors.New("bad value: 3")
	case "sleep":
		time.Sleep(time.Duration(event["s"].(float64) * float64(time.Second)))
	case "alloc":
		var hold [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			hold = append(hold, b)
		}
	case "env":
		return os.Getenv("GREETING"), nil
	case "tail":
		fmt.Println("line")
		fmt.Print("tail")
		return "ok", nil
	case "flood":
		for i := 0; i < 3000; i++ {
			fmt.Printf("line %04d %s\\n", i, strings.Repeat("x", 30))
		}
		fmt.Print("tail")
		return "ok", nil
	case "spawn":
		cmd := exec.Command("sleep", event["mark"].(string))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return cmd.Process.Pid, nil
	case "zombie":
		cmd := exec.Command("true")
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		time.Sleep(200 * time.Millisecond) // it has exited; nobody waits for it
		return cmd.Process.Pid, nil
	case "grow":
		// Goroutines blocked in system calls at once: the runtime starts threads for
		// the others, and keeps them, idle, afterwards.
		var wg sync.WaitGroup
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ts := syscall.Timespec{Nsec: 30 * 1000 * 1000}
				syscall.Nanosleep(&ts, nil)
			}()
		}
		wg.Wait()
		return threads(), nil
	case "unthread":
		// An exited child stays (a task more) and runtime threads end (a goroutine that
		// returns locked to its thread ends it) until the task count is what it was.
		before := threads()
		cmd := exec.Command("true")
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
		for i := 0; i < 200 && threads() != before-1; i++ {
			done := make(chan struct{})
			go func() { runtime.LockOSThread(); close(done) }()
			<-done
			time.Sleep(time.Millisecond)
		}
		return map[string]any{"before": before, "after": threads()}, nil
	case "procs":
		return runtime.GOMAXPROCS(0), nil
	case "ctx":
		deadline, _ := ctx.Deadline()
		return map[string]any{"job_id": info.JobID, "function_name": info.FunctionName,
			"version": info.Version, "trigger": info.Trigger, "sub": info.Sub,
			"deadline_ms": deadline.UnixMilli(), "remaining": info.RemainingMs(),
			"extra": info.Extra}, nil
	}
	return map[string]any{"echo": event, "token": token}, nil
}

func threads() int {
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\\n") {
		if strings.HasPrefix(line, "Threads:") {
			count, _ := strconv.Atoi(strings.TrimSpace(line[len("Threads:"):]))
			return count
		}
	}
	return -1
}
"""

RUST_SINK = """use std::sync::atomic::{AtomicU64, Ordering};
static TOKEN: AtomicU64 = AtomicU64::new(0);

fn handler(event: Value, ctx: &Context) -> Result<Value, Box<dyn std::error::Error>> {
    if TOKEN.load(Ordering::SeqCst) == 0 {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        TOKEN.store(t.as_nanos() as u64, Ordering::SeqCst);
    }
    match event["op"].as_str().unwrap_or("") {
        "print" => {
            println!("first line");
            eprintln!("to stderr");
            print!("partial ");
            println!("end {}", 42);
            return Ok(json!("result only"));
        }
        "panic" => panic!("boom {}", event["n"]),
        "fail" => return Err("bad value: 3".into()),
        "sleep" => {
            let s = event["s"].as_f64().unwrap_or(0.0);
            std::thread::sleep(std::time::Duration::from_millis((s * 1000.0) as u64));
        }
        "alloc" => {
            let mut hold: Vec<Vec<u8>> = Vec::new();
            loop {
                hold.push(vec![1u8; 1 << 20]);
            }
        }
        "env" => return Ok(json!(std::env::var("GREETING").unwrap_or_default())),
        "tail" => {
            println!("line");
            print!("tail");
            return Ok(json!("ok"));
        }
        "flood" => {
            for i in 0..3000 {
                println!("line {:04} {}", i, "x".repeat(30));
            }
            print!("tail");
            return Ok(json!("ok"));
        }
        "spawn" => {
            let mark = event["mark"].as_str().unwrap_or("1");
            let child = std::process::Command::new("sleep").arg(mark).spawn()?;
            return Ok(json!(child.id()));
        }
        "zombie" => {
            let child = std::process::Command::new("true").spawn()?;
            std::thread::sleep(std::time::Duration::from_millis(200)); // exited, not waited for
            return Ok(json!(child.id()));
        }
        "ctx" => {
            return Ok(json!({"job_id": ctx.job_id, "function_name": ctx.function_name,
                "version": ctx.version, "trigger": ctx.trigger, "sub": ctx.sub,
                "deadline_ms": ctx.deadline_ms, "remaining": ctx.remaining_ms(),
                "extra": ctx.extra}))
        }
        _ => {}
    }
    Ok(json!({"echo": event, "token": TOKEN.load(Ordering::SeqCst).to_string()}))
}
"""
SINK = {"go": GO_SINK, "rust": RUST_SINK}
# The line of each file's panic, as the user counts them.
PANIC_LINE = {rt: next(n for n, text in enumerate(code.splitlines(), 1) if "panic" in text
                       and "boom" in text) for rt, code in SINK.items()}


def need_toolchain(pools: WorkerPools, runtime: str) -> None:
    """Skip (fail under CI=true) without the runtime's toolchain."""
    if pools.available_runtimes()[runtime]:
        return
    message = f"no {runtime} toolchain here (deploy/system-packages.sh installs it)"
    if IN_CI:
        pytest.fail(message + " (CI=true)")
    pytest.skip(message)


async def compiled(pools: WorkerPools, runtime: str, code: str,
                   handler: str = "handler", **kw: Any) -> CodeSpec:
    """The spec of ``code`` built (a failed build fails the test)."""
    need_toolchain(pools, runtime)
    built = await pools.compiler.compile(runtime, code, handler)  # type: ignore[arg-type]
    assert built.ok, built.log
    return CodeSpec(function_id=next(_ids), function_name="fn", version=1,
                    runtime=runtime, code=code, handler=handler,  # type: ignore[arg-type]
                    binary_path=built.path, **kw)


@pytest_asyncio.fixture(scope="module")
async def sinks(pools: WorkerPools) -> dict[str, CodeSpec]:
    """Each language's kitchen-sink function, built once for the module (if it can be)."""
    built: dict[str, CodeSpec] = {}
    for runtime in COMPILED:
        if pools.available_runtimes()[runtime]:
            built[runtime] = await compiled(pools, runtime, SINK[runtime],
                                            environment={"GREETING": "hi"})
    return built


def sink(pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str, **kw: Any) -> CodeSpec:
    need_toolchain(pools, runtime)
    # A fresh function id: a worker of its own, not one another test left behind.
    return dataclasses.replace(sinks[runtime], function_id=next(_ids), **kw)


HANDLER_FORMS = [
    ("go", "Handler", "package main\n\nfunc Handler(event map[string]any) (any, error) {\n"
                      "\treturn map[string]any{\"got\": event, \"ctx\": \"job-1\"}, nil\n}\n"),
    ("go", "handler", 'import (\n\t"context"\n\t"encoding/json"\n)\n\n'  # no package clause
                      "func Handler(ctx context.Context, event json.RawMessage) (any, error) {\n"
                      "\tinfo, _ := CallInfoFrom(ctx)\n"
                      "\treturn map[string]any{\"got\": event, \"ctx\": info.JobID}, nil\n}\n"),
    ("go", "Run", "package kubeless\n\nimport \"context\"\n\n"
                  "func Run(ctx context.Context, event map[string]any) (any, error) {\n"
                  "\tinfo, _ := CallInfoFrom(ctx)\n"
                  "\treturn map[string]any{\"got\": event, \"ctx\": info.JobID}, nil\n}\n"),
    ("go", "handler", "package main\n\nimport \"encoding/json\"\n\n"
                      "func handler(event json.RawMessage) (any, error) {\n"
                      "\treturn map[string]any{\"got\": event, \"ctx\": \"job-1\"}, nil\n}\n"),
    ("rust", "handler", "use serde_json::{json, Value};\n\n"
                        "fn handler(event: Value, ctx: &Context) -> Result<Value, "
                        "Box<dyn std::error::Error>> {\n"
                        "    Ok(json!({\"got\": event, \"ctx\": ctx.job_id}))\n}\n"),
    ("rust", "main_handler", "fn main_handler(event: Value) -> Result<Value, String> {\n"
                             "    Ok(json!({\"got\": event, \"ctx\": \"job-1\"}))\n}\n"),
]


@pytest.mark.parametrize(("runtime", "handler", "code"), HANDLER_FORMS)
async def test_every_handler_form_runs(pools: WorkerPools, runtime: str, handler: str,
                                       code: str) -> None:
    r = await run(pools, await compiled(pools, runtime, code, handler), {"n": 1})
    assert r.ok, r.error
    assert r.result == {"got": {"n": 1}, "ctx": "job-1"}


COMPILE_ERRORS = [
    ("go", "package main\n\nfunc Handler(event map[string]any) (any, error) {\n"
           "\treturn missing, nil\n}\n", 4, "undefined: missing"),
    ("rust", "fn handler(event: Value) -> Result<Value, String> {\n"
             "    let n: u32 = \"text\";\n    Ok(event)\n}\n", 2, "mismatched types"),
]


@pytest.mark.parametrize(("runtime", "code", "line", "words"), COMPILE_ERRORS)
async def test_a_compile_error_fails_the_build_with_the_users_line(
        pools: WorkerPools, runtime: str, code: str, line: int, words: str) -> None:
    need_toolchain(pools, runtime)
    built: BuildResult = await pools.compiler.compile(runtime, code, "handler")  # type: ignore
    assert not built.ok and built.path is None
    assert built.line == line and words in (built.message or "")
    filename = "handler.go" if runtime == "go" else "handler.rs"
    assert f"compile error at line {line}" in built.log and f"{filename}:{line}:" in built.log
    assert "fngate-builds" not in built.log.split("\n", 1)[0]


WRONG_HANDLERS = [
    ("go", "package main\n\nfunc Handler(n int) string {\n\treturn \"\"\n}\n",
     "func Handler(event map[string]any) (any, error)"),
    ("go", "package main\n\nfunc Other(event map[string]any) (any, error) {\n"
           "\treturn nil, nil\n}\n", "func Handler(event map[string]any) (any, error)"),
    ("rust", "fn handler(n: i32) -> i32 {\n    n\n}\n",
     "fn handler(event: Value, ctx: &Context) -> Result<Value, Box<dyn std::error::Error>>"),
]


@pytest.mark.parametrize(("runtime", "code", "signature"), WRONG_HANDLERS)
async def test_no_handler_of_a_known_form_names_the_expected_signatures(
        pools: WorkerPools, runtime: str, code: str, signature: str) -> None:
    need_toolchain(pools, runtime)
    built = await pools.compiler.compile(runtime, code, "handler")  # type: ignore[arg-type]
    assert not built.ok
    assert signature in (built.message or "") and signature in built.log


@pytest.mark.parametrize("runtime", COMPILED)
async def test_a_second_compile_of_the_same_source_is_cached(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str) -> None:
    first = sink(pools, sinks, runtime)
    runs = pools.compiler.builds_run
    again = await pools.compiler.compile(runtime, SINK[runtime], "handler")  # type: ignore
    assert again.ok and again.log == "cached" and again.path == first.binary_path
    assert pools.compiler.builds_run == runs


@pytest.mark.parametrize("runtime", COMPILED)
async def test_a_warm_second_call_reuses_the_worker(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str) -> None:
    s = sink(pools, sinks, runtime)
    event = {"s": 'héllo ✓ "q" \n', "i": -12, "f": 1.5, "n": None, "b": True, "l": [1, [2, {}]]}
    first = await run(pools, s, event)
    second = await run(pools, s, event)
    assert first.ok and second.ok, (first.error, second.error)
    assert first.result["echo"] == event and second.result == first.result
    assert first.cold_start is True and second.cold_start is False
    assert second.cpu_ms is not None and second.max_rss_bytes


@pytest.mark.parametrize("runtime", COMPILED)
async def test_context_has_the_call_facts(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str) -> None:
    c = ctx(user_id="u-7")
    r = await pools.run(sink(pools, sinks, runtime), {"op": "ctx"}, c, timeout_ms=5000)
    assert r.ok, r.error
    res = r.result
    assert res["job_id"] == "job-1" and res["function_name"] == "fn" and res["version"] == 1
    assert res["trigger"] == "http" and res["sub"] == "alice"
    assert res["deadline_ms"] == c.deadline_ms and 0 < res["remaining"] <= 10_000
    assert res["extra"] == {"user_id": "u-7"}


@pytest.mark.parametrize("runtime", COMPILED)
async def test_prints_go_to_logs_and_env_is_the_functions(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str) -> None:
    s = sink(pools, sinks, runtime)
    r = await run(pools, s, {"op": "print"})
    assert r.ok and r.result == "result only", r.error
    # In order on each stream (two pipes: the order between them is as they were read).
    assert [ln.message for ln in r.logs if ln.stream == "stdout"] == [
        "first line", "partial end 42"]
    assert [ln.message for ln in r.logs if ln.stream == "stderr"] == ["to stderr"]
    env = await run(pools, s, {"op": "env"})
    assert env.result == "hi" and env.logs == ()


async def test_go_runs_with_as_many_procs_as_its_cpu_quota_or_its_own_gomaxprocs(
        pools: WorkerPools, sinks: dict[str, CodeSpec]) -> None:
    own = await run(pools, sink(pools, sinks, "go", environment={"GOMAXPROCS": "3"}),
                    {"op": "procs"})
    assert own.ok and own.result == 3, own.error
    if not pools.sandbox_status()["cpu_quota"]:
        pytest.skip("no cgroup CPU controller here: no quota to follow")
    one = await run(pools, sink(pools, sinks, "go", cpu_millis=1000), {"op": "procs"})
    half = await run(pools, sink(pools, sinks, "go", cpu_millis=500), {"op": "procs"})
    assert one.result == 1 and half.result == 1, (one.error, half.error)
    if (os.cpu_count() or 1) >= 2:
        two = await run(pools, sink(pools, sinks, "go", cpu_millis=1500), {"op": "procs"})
        assert two.result == 2, two.error


@pytest.mark.parametrize("runtime", COMPILED)
async def test_a_last_line_without_a_newline_is_a_line_of_its_own(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str) -> None:
    s = sink(pools, sinks, runtime)
    r = await run(pools, s, {"op": "tail"})
    assert r.ok, r.error
    assert [(ln.stream, ln.message) for ln in r.logs] == [("stdout", "line"), ("stdout", "tail")]
    again = await run(pools, s, {"op": "tail"})
    assert [ln.message for ln in again.logs] == ["line", "tail"]
    await pools.drop_function(s.function_id)  # room for the pre-started workers later tests see


@pytest.mark.parametrize("runtime", COMPILED)
async def test_more_output_than_a_pipe_holds_is_cut_at_the_log_limit_in_order(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str) -> None:
    s = sink(pools, sinks, runtime)
    r = await run(pools, s, {"op": "flood"})  # 135 kB printed, 4 kB of logs kept
    assert r.ok and r.result == "ok", r.error
    assert r.logs_truncated
    lines = [ln.message for ln in r.logs]
    assert lines == [f"line {i:04d} {'x' * 30}" for i in range(len(lines))]
    assert 0 < sum(len(m) + 1 for m in lines) <= MAX_LOG_BYTES
    # Nothing of it is left for the next call of the same worker.
    after = await run(pools, s, {"op": "env"})
    assert after.cold_start is False and after.logs == () and not after.logs_truncated
    await pools.drop_function(s.function_id)


@pytest.mark.parametrize("runtime", COMPILED)
@pytest.mark.parametrize("left", ["spawn", "zombie"])
async def test_a_process_a_call_leaves_is_killed_and_the_worker_replaced(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str, left: str) -> None:
    s = sink(pools, sinks, runtime)
    first = await run(pools, s)  # warm: the count of the sandbox's tasks has moved since
    mark = f"300.{time.time_ns() % 10**9:09d}"
    r = await run(pools, s, {"op": left, "mark": mark})  # a sleep, or an exited child
    assert r.ok, r.error
    # SIGKILLed as the call ended; it leaves /proc a moment later, not at once.
    await wait_for(lambda: not sleepers(mark), timeout_s=5)
    after = await run(pools, s)  # a zombie only its parent reaps: a new worker
    assert after.cold_start is True and after.result["token"] != first.result["token"]
    await pools.drop_function(s.function_id)


async def test_a_zombie_left_as_threads_end_is_found(
        pools: WorkerPools, sinks: dict[str, CodeSpec]) -> None:
    # Go's runtime threads come and go, and a call can end some: a count of the worker's
    # tasks that comes back to an earlier one is no proof that nothing was left.
    s = sink(pools, sinks, "go")
    first = await run(pools, s)
    await run(pools, s, {"op": "grow"})  # idle threads: ending one starts none
    await run(pools, s)
    r = await run(pools, s, {"op": "unthread"})
    assert r.ok, r.error
    assert r.result["after"] == r.result["before"] - 1  # a thread fewer, a zombie more
    after = await run(pools, s)  # the zombie was found: a new worker
    assert after.cold_start is True and after.result["token"] != first.result["token"]
    await pools.drop_function(s.function_id)


@pytest.mark.parametrize("runtime", COMPILED)
async def test_a_returned_error_is_a_runtime_error_and_the_worker_stays(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str) -> None:
    s = sink(pools, sinks, runtime)
    before = await run(pools, s)
    r = await run(pools, s, {"op": "fail"})
    assert r.failure == "RUNTIME_ERROR" and r.error is not None
    assert r.error.type == "Error" and r.error.message == "bad value: 3"
    after = await run(pools, s)
    assert after.cold_start is False and after.result["token"] == before.result["token"]


@pytest.mark.parametrize("runtime", COMPILED)
async def test_a_panic_is_a_runtime_error_with_its_line_and_the_worker_is_replaced(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str) -> None:
    s = sink(pools, sinks, runtime)
    before = await run(pools, s)
    r = await run(pools, s, {"op": "panic", "n": 7})
    assert r.failure == "RUNTIME_ERROR" and r.error is not None
    assert r.error.type == "Panic" and r.error.message == "boom 7"
    assert r.error.line == PANIC_LINE[runtime]
    assert "fngate-builds" not in (r.error.stack_trace or "")
    after = await run(pools, s)
    assert after.ok and after.cold_start is True
    assert after.result["token"] != before.result["token"]


@pytest.mark.parametrize("runtime", COMPILED)
async def test_a_timeout_kills_the_worker_and_the_next_call_works(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str) -> None:
    s = sink(pools, sinks, runtime)
    before = await run(pools, s)
    started = time.monotonic()
    r = await run(pools, s, {"op": "sleep", "s": 30}, timeout_ms=300)
    assert time.monotonic() - started < 5
    assert r.failure == "TIMEOUT" and r.error is not None and r.error.type == "Timeout"
    after = await run(pools, s)
    assert after.ok and after.cold_start and after.result["token"] != before.result["token"]


@pytest.mark.parametrize("runtime", COMPILED)
async def test_a_memory_bomb_is_out_of_memory(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str) -> None:
    s = sink(pools, sinks, runtime, memory_mb=64)
    r = await run(pools, s, {"op": "alloc"}, timeout_ms=20_000)
    assert r.failure == "RUNTIME_ERROR" and r.error is not None
    assert r.error.type == "OutOfMemory", r.error
    after = await run(pools, s)
    assert after.ok, after.error


@pytest.mark.parametrize("runtime", COMPILED)
async def test_a_cold_start_execs_the_binary_in_a_pre_started_worker(
        pools: WorkerPools, sinks: dict[str, CodeSpec], runtime: str) -> None:
    s = sink(pools, sinks, runtime)

    async def prestarted() -> list:
        ready = [w for profile, workers in pools._generic.items()
                 if profile[0] == runtime for w in workers if w.alive]
        return ready

    waiting = await wait_for(prestarted, timeout_s=30)
    r = await run(pools, s)
    assert r.ok and r.cold_start, r.error
    (worker,) = pools._idle[s.key]
    assert worker in waiting  # the same process: its sandbox was made before the call
