package main

import (
	"testing"

	"github.com/prescale/prescale/feed/prometheus/promtest"
)

// TestMain removes the binaries the serve tests built, then fails the
// package if a goroutine or a child process (a prescale or prometheus left
// running) outlives the tests.
func TestMain(m *testing.M) { promtest.Main(serveTests{m}) }

// serveTests runs the tests and then removes the serve binaries, before
// promtest.Main's checks (which exit).
type serveTests struct{ m *testing.M }

func (s serveTests) Run() int {
	defer removeServeBinaries()
	return s.m.Run()
}
