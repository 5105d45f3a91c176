// fngate's Go runtime: compiled into every Go function's binary (package main, beside
// the user's handler.go and a generated fngate_entry.go that registers the handler).
//
// The binary is started as `<binary> <read fd> <write fd>` and speaks the worker frames
// of executors/protocol.py: 4-byte big-endian length + UTF-8 JSON. Standard library only.
// What the function prints on stdout/stderr (fd 1 and 2, children's output included)
// is read back through pipes and sent as log frames of the call that is running.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// CallInfo is what fngate tells a handler about the call (besides the ctx deadline).
type CallInfo struct {
	JobID        string         `json:"job_id"`
	FunctionName string         `json:"function_name"`
	Version      int            `json:"version"`
	Trigger      string         `json:"trigger"`
	DeadlineMs   int64          `json:"deadline_ms"`
	Sub          *string        `json:"sub"`
	Extra        map[string]any `json:"extra"`
}

// RemainingMs is how long the call may still run, in milliseconds.
func (c CallInfo) RemainingMs() int64 {
	left := c.DeadlineMs - time.Now().UnixMilli()
	if left < 0 {
		return 0
	}
	return left
}

type fngateCallKey struct{}

// CallInfoFrom returns the call's facts from the ctx a handler was given.
func CallInfoFrom(ctx context.Context) (CallInfo, bool) {
	info, ok := ctx.Value(fngateCallKey{}).(CallInfo)
	return info, ok
}

// The handler forms a function may define (the `handler` field names it).
type fngateHandlerForm interface {
	func(map[string]any) (any, error) |
		func(context.Context, json.RawMessage) (any, error) |
		func(context.Context, map[string]any) (any, error) |
		func(json.RawMessage) (any, error)
}

var fngateHandler func(context.Context, json.RawMessage) (any, error)

type fngateError struct {
	Type       string  `json:"type"`
	Message    string  `json:"message"`
	StackTrace *string `json:"stack_trace"`
	Line       *int    `json:"line"`
	Column     *int    `json:"column"`
}

func fngateObject(raw json.RawMessage) (map[string]any, error) {
	var event map[string]any
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	if err := json.Unmarshal(raw, &event); err != nil {
		return nil, &fngateTypedError{"InvalidEvent", "the event is not a JSON object (declare the handler with an event json.RawMessage to take any JSON)"}
	}
	return event, nil
}

func fngateRegister[F fngateHandlerForm](fn F) {
	switch h := any(fn).(type) {
	case func(map[string]any) (any, error):
		fngateHandler = func(_ context.Context, raw json.RawMessage) (any, error) {
			event, err := fngateObject(raw)
			if err != nil {
				return nil, err
			}
			return h(event)
		}
	case func(context.Context, map[string]any) (any, error):
		fngateHandler = func(ctx context.Context, raw json.RawMessage) (any, error) {
			event, err := fngateObject(raw)
			if err != nil {
				return nil, err
			}
			return h(ctx, event)
		}
	case func(context.Context, json.RawMessage) (any, error):
		fngateHandler = h
	case func(json.RawMessage) (any, error):
		fngateHandler = func(_ context.Context, raw json.RawMessage) (any, error) { return h(raw) }
	}
}

type fngateTypedError struct{ kind, message string }

func (e *fngateTypedError) Error() string { return e.message }

// --- frames ------------------------------------------------------------------------

// The frame pipes and the log pipes are non-blocking and handed to the runtime's poller,
// and every read and write on them is a raw system call made when the poller says the
// pipe is ready. A goroutine waiting for the next frame is then parked, not a thread
// blocked in read(2), and a call makes no system call through the scheduler's
// entersyscall: that wakes the runtime's monitor thread (sysmon), which then polls
// every 20 us while anything runs. Blocking reads and writes cost 10-14 thread
// switches per warm call through the gateway, against one for the other runtimes.
var (
	fngateOut     syscall.RawConn
	fngateOutLock sync.Mutex
	fngateIn      *bufio.Reader
)

// fngateRaw is a read(2) or write(2) made without entersyscall: only for a
// non-blocking descriptor, whose call returns at once. EINTR is retried.
func fngateRaw(trap uintptr, fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	for {
		n, _, errno := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno != syscall.EINTR {
			return int(n), errno
		}
	}
}

// fngatePipe reads a non-blocking descriptor through the poller (see above).
type fngatePipe struct{ conn syscall.RawConn }

func (r fngatePipe) Read(p []byte) (n int, err error) {
	rerr := r.conn.Read(func(fd uintptr) bool {
		got, errno := fngateRaw(syscall.SYS_READ, fd, p)
		switch errno {
		case syscall.EAGAIN:
			return false // wait until the poller says it is readable
		case 0:
			if got == 0 {
				err = io.EOF
			}
			n = got
		default:
			err = errno
		}
		return true
	})
	if err == nil {
		err = rerr
	}
	return n, err
}

func fngateRawConn(fd int, name string) syscall.RawConn {
	if err := syscall.SetNonblock(fd, true); err != nil {
		os.Exit(2)
	}
	conn, err := os.NewFile(uintptr(fd), name).SyscallConn()
	if err != nil {
		os.Exit(2)
	}
	return conn
}

func fngateSendRaw(body []byte) {
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	fngateOutLock.Lock()
	defer fngateOutLock.Unlock()
	failed := false
	err := fngateOut.Write(func(fd uintptr) bool {
		for len(buf) > 0 {
			n, errno := fngateRaw(syscall.SYS_WRITE, fd, buf)
			if errno == syscall.EAGAIN {
				return false // the pipe is full: wait until the gateway reads
			}
			if errno != 0 {
				failed = true
				return true
			}
			buf = buf[n:]
		}
		return true
	})
	if err != nil || failed {
		os.Exit(0) // the gateway went away
	}
}

func fngateSend(frame any) {
	body, err := json.Marshal(frame)
	if err != nil {
		panic(err)
	}
	fngateSendRaw(body)
}

func fngateRecv() map[string]json.RawMessage {
	var head [4]byte
	if _, err := io.ReadFull(fngateIn, head[:]); err != nil {
		os.Exit(0)
	}
	body := make([]byte, binary.BigEndian.Uint32(head[:]))
	if _, err := io.ReadFull(fngateIn, body); err != nil {
		os.Exit(0)
	}
	var frame map[string]json.RawMessage
	if err := json.Unmarshal(body, &frame); err != nil {
		os.Exit(3)
	}
	return frame
}

// --- logs --------------------------------------------------------------------------

type fngateLogs struct {
	sync.Mutex
	limit, used int
	truncated   bool
}

var fngateLog = &fngateLogs{limit: 64 * 1024}

func (l *fngateLogs) emit(stream string, line []byte) {
	l.Lock()
	size := len(line) + 1
	if l.truncated || l.used+size > l.limit {
		l.truncated = true
		l.Unlock()
		return
	}
	l.used += size
	l.Unlock()
	now := float64(time.Now().UnixNano()) / 1e9
	fngateSend(map[string]any{"type": "log", "stream": stream, "message": strings.ToValidUTF8(string(line), "\uFFFD"), "ts": now})
}

// fngateStream is the read end of the pipe that fd 1 or 2 writes to. Whoever holds its
// lock drains it: the reader goroutine while the call runs (woken by the poller when
// there is something to read), the call itself once the handler returned. So every line
// written before the handler returned is sent before the call's result, and a call that
// printed nothing costs one read that finds the pipe empty, no round trip.
type fngateStream struct {
	sync.Mutex
	name    string
	fd      int
	buf     []byte
	partial []byte
}

// drain reads what the pipe holds now and sends its whole lines (with final, the last
// partial line too); true at end of file. At most `budget` bytes: a child of the
// function that never stops writing must not hold the call. Call with the lock held.
func (s *fngateStream) drain(final bool, budget int) bool {
	eof := false
	for budget > 0 {
		n, errno := fngateRaw(syscall.SYS_READ, uintptr(s.fd), s.buf)
		if n <= 0 || errno != 0 {
			eof = errno == 0 && n == 0
			break
		}
		budget -= n
		s.lines(s.buf[:n])
	}
	if final && len(s.partial) > 0 {
		fngateLog.emit(s.name, s.partial)
		s.partial = s.partial[:0]
	}
	return eof
}

func (s *fngateStream) lines(data []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.partial = append(s.partial, data...)
			if len(s.partial) >= 8192 {
				fngateLog.emit(s.name, s.partial)
				s.partial = s.partial[:0]
			}
			return
		}
		if len(s.partial) > 0 {
			s.partial = append(s.partial, data[:i]...)
			fngateLog.emit(s.name, s.partial)
			s.partial = s.partial[:0]
		} else {
			fngateLog.emit(s.name, data[:i])
		}
		data = data[i+1:]
	}
}

var fngateStreams []*fngateStream

// fngateCapture points fd `fd` at a pipe whose lines become log frames of `stream`.
func fngateCapture(fd int, stream string) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		panic(err)
	}
	if err := syscall.Dup3(p[1], fd, 0); err != nil {
		panic(err)
	}
	syscall.Close(p[1])
	// Only the read end is non-blocking (its own open file): fd `fd` stays blocking.
	if err := syscall.SetNonblock(p[0], true); err != nil {
		panic(err)
	}
	s := &fngateStream{name: stream, fd: p[0], buf: make([]byte, 8192)}
	fngateStreams = append(fngateStreams, s)
	conn, err := os.NewFile(uintptr(p[0]), stream).SyscallConn()
	if err != nil {
		panic(err)
	}
	go conn.Read(func(uintptr) bool {
		s.Lock()
		defer s.Unlock()
		return s.drain(false, 1<<20)
	})
}

// fngateFlushLogs sends every line printed before it was called.
func fngateFlushLogs() {
	for _, s := range fngateStreams {
		s.Lock()
		s.drain(true, 1<<20)
		s.Unlock()
	}
}

// --- calls -------------------------------------------------------------------------

var (
	fngateBaseEnv   = os.Environ()
	fngateMaxResult = 6 * 1024 * 1024
	fngateUserLine  = regexp.MustCompile(`/handler\.go:(\d+)`)
	fngateDirs      = regexp.MustCompile(`\s/\S*/(handler\.go:\d+)`)
)

func fngateSpecialize(frame map[string]json.RawMessage) {
	var env map[string]string
	json.Unmarshal(frame["environment"], &env)
	os.Clearenv()
	for _, kv := range fngateBaseEnv {
		if k, v, ok := strings.Cut(kv, "="); ok {
			os.Setenv(k, v)
		}
	}
	for k, v := range env {
		os.Setenv(k, v)
	}
	var n int
	if json.Unmarshal(frame["max_log_bytes"], &n) == nil && n > 0 {
		fngateLog.Lock()
		fngateLog.limit = n
		fngateLog.Unlock()
	}
	if json.Unmarshal(frame["max_result_bytes"], &n) == nil && n > 0 {
		fngateMaxResult = n
	}
	runtime.GOMAXPROCS(fngateProcs(env["GOMAXPROCS"]))
	fngateSend(map[string]any{"type": "specialized", "error": nil, "load_ms": 0})
}

// fngateProcs is the GOMAXPROCS a function runs with: its own GOMAXPROCS variable when
// it sets one, else its CPU quota rounded up (the gateway sets the quota before the
// specialize frame is sent; the sandbox shows it read-only), as Go 1.25 does by itself.
// More Ps than the quota allows only spin: each call would wake an idle thread to look
// for work and put it back to sleep, two thread switches more per call.
func fngateProcs(fromEnv string) int {
	if n, err := strconv.Atoi(fromEnv); err == nil && n > 0 {
		return n
	}
	cpus := runtime.NumCPU()
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	var quota, period float64
	if f := strings.Fields(read("/sys/fs/cgroup/unified/cpu.max")); len(f) == 2 {
		quota, _ = strconv.ParseFloat(f[0], 64) // "max": no quota, 0
		period, _ = strconv.ParseFloat(f[1], 64)
	} else {
		quota, _ = strconv.ParseFloat(read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), 64)
		period, _ = strconv.ParseFloat(read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"), 64)
	}
	if quota > 0 && period > 0 {
		if n := int(math.Ceil(quota / period)); n < cpus {
			return n // at least 1: the quota is positive
		}
	}
	return cpus
}

func fngateErrorType(err error) string {
	var typed *fngateTypedError
	if errors.As(err, &typed) {
		return typed.kind
	}
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := t.Name()
	switch name {
	case "", "errorString", "wrapError", "wrapErrors", "joinError":
		return "Error"
	}
	return name
}

// fngatePanicked turns a recovered panic into the call's error; the stack keeps the
// frames of the user's file, its first one gives the line.
func fngatePanicked(value any) *fngateError {
	stack := string(debug.Stack())
	kind := "Panic"
	if _, ok := value.(interface{ RuntimeError() }); ok {
		kind = "RuntimeError"
	}
	e := &fngateError{Type: kind, Message: fmt.Sprint(value)}
	if err, ok := value.(error); ok {
		e.Message = err.Error()
	}
	if m := fngateUserLine.FindStringSubmatch(stack); m != nil {
		if line, err := strconv.Atoi(m[1]); err == nil {
			e.Line = &line
		}
	}
	var kept []string
	lines := strings.Split(stack, "\n")
	for i := 1; i+1 < len(lines); i += 2 {
		if strings.Contains(lines[i+1], "/handler.go:") {
			kept = append(kept, lines[i], fngateDirs.ReplaceAllString(lines[i+1], " $1"))
		}
	}
	trace := "panic: " + e.Message + "\n" + strings.Join(kept, "\n")
	e.StackTrace = &trace
	return e
}

func fngateInvoke(ctx context.Context, event json.RawMessage) (result any, failure *fngateError) {
	defer func() {
		if r := recover(); r != nil {
			failure = fngatePanicked(r)
		}
	}()
	value, err := fngateHandler(ctx, event)
	if err != nil {
		return nil, &fngateError{Type: fngateErrorType(err), Message: err.Error()}
	}
	return value, nil
}

func fngateUsage() (cpu float64, rss int64) {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	sec := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	cpu = sec(self.Utime) + sec(self.Stime) + sec(kids.Utime) + sec(kids.Stime)
	rss = self.Maxrss
	if kids.Maxrss > rss {
		rss = kids.Maxrss
	}
	return cpu, rss * 1024
}

func fngateCall(frame map[string]json.RawMessage) {
	fngateLog.Lock()
	fngateLog.used, fngateLog.truncated = 0, false
	fngateLog.Unlock()
	cpu0, _ := fngateUsage()
	var info CallInfo
	json.Unmarshal(frame["context"], &info)
	deadline := time.UnixMilli(info.DeadlineMs)
	ctx, cancel := context.WithDeadline(context.WithValue(context.Background(), fngateCallKey{}, info), deadline)
	value, failure := fngateInvoke(ctx, frame["event"])
	cancel()
	var body []byte
	if failure == nil {
		var err error
		body, err = json.Marshal(value)
		if err != nil {
			failure = &fngateError{Type: "InvalidResult", Message: "result is not JSON-serializable: " + err.Error()}
		} else if len(body) > fngateMaxResult {
			failure = &fngateError{Type: "ResultTooLarge", Message: fmt.Sprintf("result is %d bytes, over the limit of %d", len(body), fngateMaxResult)}
		}
	}
	fngateFlushLogs()
	cpu1, rss := fngateUsage()
	fngateLog.Lock()
	truncated := fngateLog.truncated
	fngateLog.Unlock()
	meta := map[string]any{
		"type": "result", "ok": failure == nil, "cpu_ms": (cpu1 - cpu0) * 1000,
		"max_rss": rss, "logs_truncated": truncated,
	}
	if failure != nil {
		meta["error"] = failure
		// After a panic the process state is unknown: the gateway replaces this worker.
		meta["retire"] = failure.Type == "Panic" || failure.Type == "RuntimeError"
		fngateSend(meta)
		return
	}
	head, _ := json.Marshal(meta)
	out := make([]byte, 0, len(head)+len(body)+12)
	out = append(out, head[:len(head)-1]...)
	out = append(out, `,"result":`...)
	out = append(out, body...)
	out = append(out, '}')
	fngateSendRaw(out)
}

func main() {
	if len(os.Args) < 3 || fngateHandler == nil {
		fmt.Fprintln(os.Stderr, "usage: a fngate worker, started by the gateway")
		os.Exit(2)
	}
	rfd, err1 := strconv.Atoi(os.Args[len(os.Args)-2])
	wfd, err2 := strconv.Atoi(os.Args[len(os.Args)-1])
	if err1 != nil || err2 != nil {
		os.Exit(2)
	}
	syscall.CloseOnExec(rfd)
	syscall.CloseOnExec(wfd)
	fngateIn = bufio.NewReaderSize(fngatePipe{fngateRawConn(rfd, "frames-in")}, 1<<16)
	fngateOut = fngateRawConn(wfd, "frames-out")
	fngateCapture(1, "stdout")
	fngateCapture(2, "stderr")
	os.Args = []string{"handler"}
	fngateSend(map[string]any{"type": "ready", "pid": os.Getpid()})
	for {
		frame := fngateRecv()
		var kind string
		json.Unmarshal(frame["type"], &kind)
		switch kind {
		case "call":
			fngateCall(frame)
		case "specialize":
			fngateSpecialize(frame)
		}
	}
}
