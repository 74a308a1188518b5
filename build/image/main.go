// Command image assembles prescale's container image without a Docker
// daemon: for each platform it cross-compiles the static binary (as the
// Dockerfile does), puts it in one layer with the CA certificates and a
// numeric non-root user, and writes a multi-platform OCI image layout
// (go-containerregistry) that any registry client can push, for example
// `crane push bin/image ghcr.io/prescale/prescale:0.1.0` or
// `skopeo copy --all oci:bin/image docker://...`.
//
//	go run ./build/image --out bin/image --version 0.1.0 --revision $(git rev-parse HEAD) --created $(git log -1 --format=%cI)
//
// `make image` runs it with the version from git. The layer's files have
// the commit's time, so the same commit gives the same image.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's user: the distroless "nonroot" user, by number so that
// Kubernetes' runAsNonRoot can check it.
const (
	uid = 65532
	gid = 65532
)

// Options say what to build and where.
type Options struct {
	// Out is the directory of the OCI image layout written.
	Out string
	// Platforms are os/arch pairs.
	Platforms []string
	// Version, Revision and Created go into the binary (as make build
	// sets them) and the image's OCI labels; Created is also the image's
	// and its files' time (RFC 3339).
	Version, Revision, Created string
	// CACerts is the CA bundle to include (Debian's ca-certificates).
	CACerts string
	// Module is the directory of prescale's go.mod.
	Module string
}

func main() {
	o := Options{CACerts: "/etc/ssl/certs/ca-certificates.crt", Module: "."}
	var platforms string
	flag.StringVar(&o.Out, "out", "bin/image", "directory of the OCI image layout to write (replaced)")
	flag.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated os/arch pairs")
	flag.StringVar(&o.Version, "version", "0.1.0-dev", "version: in the binary and the label org.opencontainers.image.version")
	flag.StringVar(&o.Revision, "revision", "", "VCS revision: in the binary and org.opencontainers.image.revision")
	flag.StringVar(&o.Created, "created", "", "RFC 3339 time of the image and its files (the commit's time keeps builds reproducible); empty means now")
	flag.StringVar(&o.CACerts, "ca-certs", o.CACerts, "CA certificate bundle to include, from Debian's ca-certificates")
	flag.Parse()
	o.Platforms = strings.Split(platforms, ",")
	if o.Created == "" {
		o.Created = time.Now().UTC().Format(time.RFC3339)
	}
	if err := Build(context.Background(), &o); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("image: wrote %s (%s), prescale %s\n", o.Out, strings.Join(o.Platforms, ", "), o.Version)
}

// Build writes the image layout of o.
func Build(ctx context.Context, o *Options) error {
	created, err := time.Parse(time.RFC3339, o.Created)
	if err != nil {
		return fmt.Errorf("--created %q: %w", o.Created, err)
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return fmt.Errorf("CA certificates (install Debian's ca-certificates): %w", err)
	}
	if len(o.Platforms) == 0 {
		return errors.New("no platform")
	}
	index := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		osName, arch, ok := strings.Cut(p, "/")
		if !ok || osName != "linux" || arch == "" {
			return fmt.Errorf("platform %q: want linux/ARCH", p)
		}
		bin, err := compile(ctx, o, arch)
		if err != nil {
			return err
		}
		img, err := image(o, arch, bin, certs, created)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		index = mutate.AppendManifests(index, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: osName, Architecture: arch}},
		})
	}
	if err := os.RemoveAll(o.Out); err != nil {
		return err
	}
	if _, err := layout.Write(o.Out, index); err != nil {
		return fmt.Errorf("write %s: %w", o.Out, err)
	}
	return nil
}

// compile cross-compiles the static binary for arch, as the Dockerfile
// does, and returns it.
func compile(ctx context.Context, o *Options, arch string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "prescale-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "prescale")
	ldflags := "-s -w -X github.com/prometheus/common/version.Version=" + o.Version +
		" -X github.com/prometheus/common/version.BuildDate=" + o.Created
	if o.Revision != "" {
		ldflags += " -X github.com/prometheus/common/version.Revision=" + o.Revision
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/prescale")
	cmd.Dir = o.Module
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build for linux/%s: %w\n%s", arch, err, msg)
	}
	return os.ReadFile(out)
}

// image is the single-layer image of one platform.
func image(o *Options, arch string, bin, certs []byte, created time.Time) (v1.Image, error) {
	files, err := rootfs(bin, certs, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(files)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:     layer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "build/image: prescale, CA certificates, user 65532"},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	cfg.Created = v1.Time{Time: created}
	cfg.Config = v1.Config{
		Entrypoint: []string{"/prescale"},
		Cmd:        []string{"serve"},
		User:       fmt.Sprintf("%d:%d", uid, gid),
		WorkingDir: "/",
		Env:        []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		// 8080: REST, /metrics, /healthz, /readyz. 9000: gRPC and KEDA.
		// 6443: the Kubernetes external metrics API.
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "9000/tcp": {}, "6443/tcp": {}},
		Labels:       Labels(o),
	}
	return mutate.ConfigFile(img, cfg)
}

// Labels are the image's OCI annotations (as labels), the same as the
// Dockerfile's.
func Labels(o *Options) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "prescale",
		"org.opencontainers.image.description": "Predictive autoscaler for Kubernetes: forecasts load and recommends replicas ahead of demand",
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.source":      "https://github.com/prescale/prescale",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.created":     o.Created,
	}
}

// rootfs is the layer's tar: the binary, the CA bundle, /etc/passwd and
// /etc/group naming the user, and a writable /tmp.
func rootfs(bin, certs []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", uid, gid)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", gid)
	for _, step := range []func() error{
		func() error { return dir("etc/", 0o755) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return dir("etc/ssl/", 0o755) },
		func() error { return dir("etc/ssl/certs/", 0o755) },
		func() error { return file("etc/ssl/certs/ca-certificates.crt", 0o644, certs) },
		func() error { return dir("tmp/", 0o1777) },
		func() error { return file("prescale", 0o755, bin) },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
