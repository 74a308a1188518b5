package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is a child process owned by the test: its output goes to a log
// file, and it is killed if the test binary dies without cleaning up
// (Pdeathsig), so no component outlives a crashed or timed-out run.
type proc struct {
	Name    string
	LogFile string
	Started time.Time

	cmd      *exec.Cmd
	done     chan struct{} // closed once the process is reaped
	waitErr  error         // read after done
	stopping atomic.Bool   // an exit after Stop is expected
}

// startProc runs bin with args in dir, its stdout and stderr appended to
// logFile.
func startProc(name, dir, logFile, bin string, args ...string) (*proc, error) {
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	p := &proc{Name: name, LogFile: logFile, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout = log // an *os.File: no copying goroutine
	p.cmd.Stderr = log
	// Pdeathsig fires when the thread that started the child exits; the Go
	// runtime ends threads only when a locked goroutine exits.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.Started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited.
func (p *proc) Exited() <-chan struct{} { return p.done }

// Unexpected reports an exit nobody asked for.
func (p *proc) Unexpected() error {
	select {
	case <-p.done:
		if !p.stopping.Load() {
			return fmt.Errorf("%s exited on its own: %v\n%s", p.Name, p.waitErr, p.LogTail(4<<10))
		}
	default:
	}
	return nil
}

// Stop sends SIGTERM, waits up to grace, then SIGKILL, and returns once the
// process is reaped. It reports how long it took and whether it had to kill.
// It is safe to call more than once.
func (p *proc) Stop(grace time.Duration) (took time.Duration, killed bool) {
	p.stopping.Store(true)
	t0 := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // os.ErrProcessDone once reaped
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		killed = true
	}
	return time.Since(t0), killed
}

// Kill sends SIGKILL, as the kernel's OOM killer or a node failure would
// end it, and returns once the process is reaped.
func (p *proc) Kill() {
	p.stopping.Store(true)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// ExitErr is the result of Wait, once Exited is closed.
func (p *proc) ExitErr() error {
	<-p.done
	return p.waitErr
}

// LogTail returns the last max bytes of the log.
func (p *proc) LogTail(max int) string { return tailFile(p.LogFile, max) }

// tailFile returns the last max bytes of the file.
func tailFile(name string, max int) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return err.Error()
	}
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return string(b)
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// freePort is freeAddr's port.
func freePort() (int, error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	_, port, _ := net.SplitHostPort(addr)
	return strconv.Atoi(port)
}
