package e2e

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listenProc is one `herald listen` process.
type listenProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	URL    string // http://127.0.0.1:PORT, from its first line
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed once the process has exited
	err    error         // cmd.Wait's result, valid after done
}

// runListenProc starts the built binary as `herald listen args…`, without
// the test's HERALD_* variables, and returns at once.
func runListenProc(t *testing.T, args ...string) *listenProc {
	t.Helper()
	cmd := exec.Command(heraldBin, append([]string{"listen"}, args...)...)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_") && !strings.HasPrefix(kv, "NO_COLOR=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	p := &listenProc{t: t, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start herald listen: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("herald listen %v stdout:\n%s\nstderr:\n%s", args, p.stdout.Tail(60), p.stderr.String())
		}
	})
	return p
}

// startListenProc starts `herald listen args…` and waits (bounded) for the
// address it prints first.
func startListenProc(t *testing.T, args ...string) *listenProc {
	t.Helper()
	p := runListenProc(t, args...)
	re := regexp.MustCompile(`^listening on (http://127\.0\.0\.1:\d+) — point a webhook URL at it\n`)
	waitFor(t, startTimeout, "herald listen to print its address", func() (bool, string) {
		select {
		case <-p.done:
			t.Fatalf("herald listen exited before listening: %v\nstderr:\n%s", p.err, p.stderr.String())
		default:
		}
		m := re.FindStringSubmatch(p.stdout.String())
		if m == nil {
			return false, p.stdout.String()
		}
		p.URL = m[1]
		return true, ""
	})
	return p
}

// block waits (bounded) for the block printed for the request whose
// X-Herald-Delivery-Id is deliveryID, and returns it.
func (p *listenProc) block(t *testing.T, deliveryID string) string {
	t.Helper()
	var block string
	waitFor(t, stateTimeout, "herald listen to print delivery "+deliveryID, func() (bool, string) {
		out := p.stdout.String()
		for _, b := range strings.Split(out, "\n\n") {
			if regexp.MustCompile(`(?m)^  X-Herald-Delivery-Id +` + regexp.QuoteMeta(deliveryID) + `$`).MatchString(b) {
				block = b
				return true, ""
			}
		}
		return false, p.stdout.Tail(20)
	})
	return block
}

// interrupt sends SIGINT and returns the exit status (bounded wait).
func (p *listenProc) interrupt(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("SIGINT herald listen: %v", err)
	}
	return p.wait(t)
}

// wait waits (bounded) for the process to exit and returns its status.
func (p *listenProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		t.Fatalf("herald listen did not exit within %s", stopTimeout)
	}
	if p.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// TestListenReceivesHerald points an environment's two URLs at two
// `herald listen` processes, one given the environment's signing key and
// one a wrong key, and checks what each prints for a delivered event.
func TestListenReceivesHerald(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	e := newEnv(t, h)
	good := startListenProc(t, "--port", "0", "--key", e.SigningKey)
	wrong := startListenProc(t, "--port", "0", "--key", "not-the-signing-key")
	e.patch(t, map[string]any{
		"primary_url":       good.URL + "/webhooks/nango",
		"secondary_url":     wrong.URL + "/webhooks/nango",
		"standard_webhooks": true,
	})
	a := e.post(t, map[string]any{
		"type": "sync", "connectionId": "c-listen", "providerConfigKey": "github",
		"syncName": "issues", "model": "Issue", "syncType": "INCREMENTAL", "success": true,
		"responseResults": map[string]int{"added": 1, "updated": 0, "deleted": 0}, "modifiedAfter": "2026-03-25T19:42:49.717Z",
	})
	if len(a.Deliveries) != 2 {
		t.Fatalf("%d deliveries, want 2 (one per URL)", len(a.Deliveries))
	}
	byURL := map[string]string{}
	for _, d := range a.Deliveries {
		byURL[d.URL] = d.ID
	}
	tests := []struct {
		name   string
		p      *listenProc
		result string
	}{
		{"signing key", good, "verified"},
		{"wrong key", wrong, "INVALID"},
	}
	for _, tt := range tests {
		id := byURL[tt.p.URL+"/webhooks/nango"]
		block := tt.p.block(t, id)
		wantRows := [][2]string{
			{"type", "sync  syncName=issues model=Issue success=true"},
			{"connectionId", "c-listen"},
			{"providerConfigKey", "github"},
			{"X-Herald-Event-Id", a.ID},
			{"X-Herald-Attempt", "1"},
			{"X-Nango-Hmac-Sha256", tt.result},
			{"X-Nango-Signature", tt.result},
			{"Standard Webhooks", tt.result},
		}
		for _, row := range wantRows {
			if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(row[0]) + ` +` + regexp.QuoteMeta(row[1])).MatchString(block) {
				t.Errorf("%s: no row %q starting %q in:\n%s", tt.name, row[0], row[1], block)
			}
		}
		if !strings.Contains(block, "POST /webhooks/nango  → 200") || !strings.Contains(block, `    "connectionId": "c-listen",`) {
			t.Errorf("%s: block lacks the request line or the indented body:\n%s", tt.name, block)
		}
		if strings.Contains(block, "\x1b[") {
			t.Errorf("%s: colour written to a pipe:\n%q", tt.name, block)
		}
		e.waitDelivery(t, id, "succeeded")
	}
	for _, tt := range tests {
		if code := tt.p.interrupt(t); code != 0 {
			t.Errorf("%s: herald listen exited %d after SIGINT, want 0; stderr: %s", tt.name, code, tt.p.stderr.String())
		}
	}
}

// TestListenExitStatus checks the binary's exit status on bad flags and on
// a port in use.
func TestListenExitStatus(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad flag", []string{"--status", "abc"}, 2, "herald listen --help"},
		{"port in use", []string{"--port", busyPort}, 1, "port " + busyPort + " is in use"},
		{"help", []string{"--help"}, 0, ""}, // its text goes to stdout, checked below
	}
	for _, tt := range tests {
		p := runListenProc(t, tt.args...)
		if code := p.wait(t); code != tt.code {
			t.Errorf("%s: exit %d, want %d; stderr: %s", tt.name, code, tt.code, p.stderr.String())
		}
		if !strings.Contains(p.stderr.String(), tt.want) {
			t.Errorf("%s: stderr %q does not mention %q", tt.name, p.stderr.String(), tt.want)
		}
		if tt.code == 0 && !strings.Contains(p.stdout.String(), "examples:") {
			t.Errorf("%s: stdout %q holds no examples", tt.name, p.stdout.String())
		}
	}
}
