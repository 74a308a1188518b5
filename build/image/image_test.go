package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestImage builds the image for amd64 and arm64 as `make image` does,
// opens the layout as a registry client would, and checks each platform's
// image: its config (entrypoint, command, numeric non-root user, labels),
// its files (the binary for its architecture, the CA bundle, the user in
// /etc/passwd), and on this machine's architecture that the binary in it
// runs and prints the version it was built with.
func TestImage(t *testing.T) {
	o := &Options{
		Out:       filepath.Join(t.TempDir(), "image"),
		Platforms: []string{"linux/amd64", "linux/arm64"},
		Version:   "9.8.7-test",
		Revision:  "0123456789abcdef0123456789abcdef01234567",
		Created:   "2026-12-05T03:00:00Z",
		CACerts:   "/etc/ssl/certs/ca-certificates.crt",
		Module:    filepath.Join("..", ".."),
	}
	if err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	lp, err := layout.FromPath(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	index, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := index.MediaType(); mt != types.OCIImageIndex || len(manifest.Manifests) != 2 {
		t.Fatalf("index %s with %d manifests, want an OCI index of 2", mt, len(manifest.Manifests))
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for i, desc := range manifest.Manifests {
		arch := strings.TrimPrefix(o.Platforms[i], "linux/")
		if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != arch {
			t.Errorf("manifest %d: platform %v, want linux/%s", i, desc.Platform, arch)
		}
		img, err := index.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cfg.Config
		if cfg.Architecture != arch || cfg.OS != "linux" || strings.Join(c.Entrypoint, " ") != "/prescale" ||
			strings.Join(c.Cmd, " ") != "serve" || c.User != "65532:65532" {
			t.Errorf("%s: config %s/%s, entrypoint %v, cmd %v, user %q; want /prescale serve as 65532:65532", arch, cfg.OS, cfg.Architecture, c.Entrypoint, c.Cmd, c.User)
		}
		for k, v := range map[string]string{
			"org.opencontainers.image.version":  o.Version,
			"org.opencontainers.image.revision": o.Revision,
			"org.opencontainers.image.created":  o.Created,
			"org.opencontainers.image.licenses": "Apache-2.0",
		} {
			if c.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", arch, k, c.Labels[k], v)
			}
		}
		files := layerFiles(t, img)
		bin := files["prescale"]
		f, err := elf.NewFile(bytes.NewReader(bin))
		if err != nil {
			t.Fatalf("%s: /prescale is not an ELF binary: %v", arch, err)
		}
		if f.Machine != machines[arch] {
			t.Errorf("%s: /prescale is for %v", arch, f.Machine)
		}
		if !bytes.Contains(files["etc/passwd"], []byte(":65532:65532:")) || !bytes.Contains(files["etc/ssl/certs/ca-certificates.crt"], []byte("BEGIN CERTIFICATE")) {
			t.Errorf("%s: no user 65532 in /etc/passwd, or no CA certificates", arch)
		}
		if arch != runtime.GOARCH {
			continue
		}
		path := filepath.Join(t.TempDir(), "prescale")
		if err := os.WriteFile(path, bin, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(path, "--version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "prescale "+o.Version+"\n") || !strings.Contains(string(out), o.Revision) ||
			!strings.Contains(string(out), o.Created) {
			t.Errorf("the image's binary --version: %v\n%s", err, out)
		}
	}
}

// layerFiles reads the regular files of img's layers.
func layerFiles(t *testing.T, img v1.Image) map[string][]byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				if files[h.Name], err = io.ReadAll(tr); err != nil {
					t.Fatal(err)
				}
			}
		}
		rc.Close()
	}
	return files
}
