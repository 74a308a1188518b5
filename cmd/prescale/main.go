// Command prescale is a predictive autoscaler for Kubernetes: it forecasts
// load from its history and recommends replica counts ahead of demand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // calendars name time zones; images may have no zoneinfo

	"github.com/prometheus/common/model"
)

// command is one subcommand: its name, a one-line summary and its run
// function, which parses its own flags.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what every subcommand gets from main: where to write, and the logger.
type env struct {
	stdout io.Writer
	stderr io.Writer
	logger *slog.Logger
}

// errUsage marks an error whose message is a usage problem; main prints it
// and exits 2.
var errUsage = errors.New("usage")

func commands() []command {
	return []command{
		{"serve", "run the autoscaler service: models per target, recommendations over gRPC, REST, KEDA and /metrics (a built-in demo without flags)", runServe},
		{"forecast", "forecast a load history from a CSV file, with calibrated quantiles", runForecast},
		{"backtest", "replay a load history through prescale, the Kubernetes HPA and an oracle: what each would have cost and missed", runBacktest},
		{"eval", "measure on real data: m4 (forecast accuracy), nab (anomaly detection), outage (anomaly-aware training), panel (the backtest on every trace)", runEval},
		{"check", "validate targets files without starting a server: check config FILE... (every problem, with its line; exit 1 when one is invalid)", runCheck},
		{"version", "print the version, revision, build date, Go version and platform (also: prescale --version)", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code: 0 on success, 1
// on failure, 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		printVersion(stdout)
		return 0
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "prescale %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "prescale %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "prescale: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "prescale: a predictive autoscaler for Kubernetes.")
	fmt.Fprintln(w, "\nUsage: prescale COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'prescale COMMAND -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage to w.
func newFlagSet(name, synopsis string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() { printUsage(fs, synopsis, nil) }
	return fs
}

// flagSection is a group of flags that -h lists apart, after the others.
type flagSection struct {
	title string
	in    func(name string) bool
}

// printUsage writes the synopsis and the flags: first those of no
// section, then each section's under its title.
func printUsage(fs *flag.FlagSet, synopsis string, sections []flagSection) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: prescale %s\n\nFlags:\n", synopsis)
	inSection := func(name string) bool {
		for _, s := range sections {
			if s.in(name) {
				return true
			}
		}
		return false
	}
	printFlags(fs, func(name string) bool { return !inSection(name) })
	var durations []string
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := f.Value.(*model.Duration); ok {
			durations = append(durations, "--"+f.Name)
		}
	})
	if len(durations) > 0 {
		fmt.Fprintf(w, "\nDurations (%s) are written the Prometheus way, as in the targets file: 90s, 1h30m, 14d, 1w.\n",
			strings.Join(durations, ", "))
	}
	for _, s := range sections {
		fmt.Fprintf(w, "\n%s:\n", s.title)
		printFlags(fs, s.in)
	}
}

// printFlags writes the defaults of fs's flags that keep selects, as
// flag.PrintDefaults writes them.
func printFlags(fs *flag.FlagSet, keep func(name string) bool) {
	sub := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	sub.SetOutput(fs.Output())
	fs.VisitAll(func(f *flag.Flag) {
		if keep(f.Name) {
			sub.Var(f.Value, f.Name, f.Usage)
			sub.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	sub.PrintDefaults()
}

// durationVar defines a duration flag read the Prometheus way ("90s",
// "1h30m", "14d", "1w"), the syntax of the targets file and of --range, by
// model.Duration as its flag.Value. A backquoted `duration` in usage names
// the value in -h, as flag.Duration's flags are named.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*model.Duration)(p), name, usage)
}

// parseFlags parses args, mapping a flag error to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
