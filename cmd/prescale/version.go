package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/prometheus/common/version"
)

// nextRelease is the version a build from an untagged commit works
// towards; it prints as nextRelease-dev. `make build` and the Dockerfile
// set the real one from `git describe` (tags are vMAJOR.MINOR.PATCH).
const nextRelease = "0.1.0"

// The build information lives in github.com/prometheus/common/version,
// the variables every Prometheus-ecosystem binary sets at link time:
//
//	go build -ldflags "-X github.com/prometheus/common/version.Version=0.1.0 \
//	  -X github.com/prometheus/common/version.Revision=$(git rev-parse HEAD) \
//	  -X github.com/prometheus/common/version.BuildDate=..."
//
// so that `prescale version` and the prescale_build_info metric say the
// same. What the linker did not set comes from the module's build
// information when there is any (go install, a VCS checkout).
func init() {
	info, ok := debug.ReadBuildInfo()
	if version.Version == "" {
		version.Version = nextRelease + "-dev"
		if ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
			version.Version = info.Main.Version
		}
	}
	if version.BuildDate == "" && ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.time" {
				version.BuildDate = s.Value
			}
		}
	}
}

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet("version", "version", e.stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	printVersion(e.stdout)
	return nil
}

// printVersion writes the version, revision, build date, Go version and
// platform, as `prescale version` and `prescale --version` print them.
func printVersion(w io.Writer) {
	or := func(s, unknown string) string {
		if s == "" {
			return unknown
		}
		return s
	}
	fmt.Fprintf(w, "prescale %s\n", version.Version)
	fmt.Fprintf(w, "  revision:   %s\n", or(version.GetRevision(), "unknown"))
	fmt.Fprintf(w, "  build date: %s\n", or(version.BuildDate, "unknown"))
	fmt.Fprintf(w, "  go version: %s\n", version.GoVersion)
	fmt.Fprintf(w, "  platform:   %s/%s\n", version.GoOS, version.GoArch)
}
