package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/prescale/prescale/models/config"
)

// runCheck validates files without starting a server, like promtool check
// config: `prescale check config FILE...`.
func runCheck(_ context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, "Usage: prescale check config [--max-targets N] FILE...\n\n"+
			"Checks targets files as serve --config reads them: every problem of every file, each as\n"+
			"file:line: targets[i].field: message. Exit 0 when all are valid, 1 when one is not.")
		if len(args) == 0 {
			return fmt.Errorf("%w: name what to check: config", errUsage)
		}
		return nil
	}
	if args[0] != "config" {
		return fmt.Errorf("%w: unknown check %q (have: config)", errUsage, args[0])
	}
	fs := newFlagSet("check config", "check config [--max-targets N] FILE...", e.stderr)
	maxTargets := fs.Int("max-targets", 1000, "the serve --max-targets the files are for: a file declaring more targets is invalid")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: name the targets files to check", errUsage)
	}
	if *maxTargets < 1 {
		return fmt.Errorf("%w: --max-targets %d: want at least 1", errUsage, *maxTargets)
	}
	failed := 0
	for _, path := range fs.Args() {
		cfg, err := config.Load(path)
		if err == nil && len(cfg.Targets) > *maxTargets {
			err = fmt.Errorf("%s: %d targets declared, more than the limit of %d (--max-targets)", path, len(cfg.Targets), *maxTargets)
		}
		if err != nil {
			failed++
			fmt.Fprintf(e.stdout, "FAILED %s\n%v\n", path, err)
			continue
		}
		fmt.Fprintf(e.stdout, "SUCCESS %s: %d targets\n", path, len(cfg.Targets))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files invalid", failed, fs.NArg())
	}
	return nil
}
