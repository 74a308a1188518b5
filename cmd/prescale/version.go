package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet("version", "version", e.stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v, revision := version, ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
		if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
	}
	fmt.Fprintf(e.stdout, "prescale %s", v)
	if revision != "" {
		fmt.Fprintf(e.stdout, " (%s)", revision)
	}
	fmt.Fprintln(e.stdout)
	return nil
}
