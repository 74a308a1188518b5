package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prescale/prescale/models"
)

// SpecVersion is the spec file format this binary writes and reads.
const SpecVersion = 1

// Spec files live beside the snapshots, one per target created through the
// API or by KEDA, named <name>.spec, in the snapshots' format with their
// own magic:
//
//	prescale-spec <version> <payload length> <sha256 of payload, hex>\n
//	<payload: the Spec as one JSON document>
//
// They are kept apart from the snapshots because they are written at
// another time for another reason: a spec is written (atomically, like a
// snapshot) before a create or an update is acknowledged, and removed
// before a delete is, while a snapshot is written only after a fit and
// then every so often. Losing a snapshot costs a refit; losing a spec
// would lose a target a client was told exists. They share the Store
// because they share its directory, its one owner, its clean-up of
// temporary files and its file format.
const (
	specMagic = "prescale-spec"
	specExt   = ".spec"
	// corruptExt ends the name a spec that cannot be read is renamed to:
	// kept for whoever looks into it, no longer read.
	corruptExt = ".corrupt"
	// maxSpecBytes bounds what LoadSpecs reads: a spec is a target's
	// fields, well under a KiB.
	maxSpecBytes = 1 << 20
)

// Spec is the declaration of a target created through the API or by
// KEDA, the part of it that must survive any restart: its configuration
// and origin.
type Spec struct {
	// Version is the format version (SpecVersion); SaveSpec sets it.
	Version int `json:"version"`
	// Name is the target's name; it also names the file.
	Name string `json:"name"`
	// Origin is where the target was declared (registry.OriginAPI,
	// registry.OriginKEDA).
	Origin string `json:"origin"`
	// Target is the configuration last acknowledged.
	Target models.Target `json:"target"`
}

// check reports what is wrong with a spec's contents, or nil.
func (s *Spec) check() error {
	switch {
	case s.Target.Name != s.Name:
		return fmt.Errorf("target name %q differs from spec name %q", s.Target.Name, s.Name)
	case s.Origin == "":
		return errors.New("no origin")
	}
	return nil
}

// specPath is the file of the spec of target name.
func (s *Store) specPath(name string) string { return filepath.Join(s.dir, name+specExt) }

// SaveSpec writes the spec of spec.Name atomically and durably, replacing
// any previous one: when it returns nil the spec is on disk (the file and
// the directory entry synced), and a crash at any point leaves the
// previous file or the new one.
func (s *Store) SaveSpec(spec *Spec) error {
	if spec == nil {
		return fmt.Errorf("save spec: %w: nil", ErrInvalid)
	}
	if err := checkSnapshotName(spec.Name); err != nil {
		return fmt.Errorf("save spec: %w", err)
	}
	c := *spec
	c.Version = SpecVersion
	if err := c.check(); err != nil {
		return fmt.Errorf("save spec %q: %w: %w", spec.Name, ErrInvalid, err)
	}
	payload, err := json.Marshal(&c)
	if err != nil {
		return fmt.Errorf("save spec %q: %w: %w", spec.Name, ErrInvalid, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	pattern := snapshotTemp + spec.Name[:min(len(spec.Name), 64)] + "-spec-*"
	if err := writeFileAtomic(s.dir, pattern, s.specPath(spec.Name), frame(specMagic, SpecVersion, payload)); err != nil {
		return fmt.Errorf("save spec %q: %w", spec.Name, err)
	}
	return nil
}

// DeleteSpec removes the spec of target name durably (the directory is
// synced). A missing one is ErrNotFound.
func (s *Store) DeleteSpec(name string) error {
	if err := checkSnapshotName(name); err != nil {
		return fmt.Errorf("delete spec: %w", err)
	}
	if err := s.remove(s.specPath(name)); err != nil {
		return fmt.Errorf("delete spec: %w", err)
	}
	return nil
}

// remove removes a file of the store and syncs the directory; a missing
// file is ErrNotFound.
func (s *Store) remove(path string) error {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w", path, ErrNotFound)
		}
		return err
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// LoadSpecs loads every spec in the store, in name order. A spec that
// cannot be read (damaged, another format version, a name that is not a
// target's) is renamed aside to <file>.corrupt (or .corrupt-2, ...), never
// deleted, and reported as a problem naming both files and wrapping
// ErrCorrupt, ErrVersion, ErrName or the I/O error. An I/O error reading
// a file leaves it where it is: the next start tries again.
func (s *Store) LoadSpecs() (specs []*Spec, problems []error) {
	files, err := s.clean(specExt)
	if err != nil {
		return nil, []error{fmt.Errorf("load specs: %w", err)}
	}
	for _, file := range files {
		path := filepath.Join(s.dir, file)
		spec, err := s.loadSpec(strings.TrimSuffix(file, specExt), path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue // deleted since the listing
		case errors.Is(err, ErrCorrupt), errors.Is(err, ErrVersion), errors.Is(err, ErrName):
			aside, rerr := s.setAside(path)
			if rerr != nil {
				problems = append(problems, fmt.Errorf("load spec %s: %w (and it could not be renamed aside: %w)", path, err, rerr))
				continue
			}
			problems = append(problems, fmt.Errorf("load spec %s: %w; renamed to %s", path, err, aside))
		case err != nil:
			problems = append(problems, fmt.Errorf("load spec %s: %w", path, err))
		default:
			specs = append(specs, spec)
		}
	}
	return specs, problems
}

// loadSpec reads and verifies the spec file at path for target name.
func (s *Store) loadSpec(name, path string) (*Spec, error) {
	if err := checkSnapshotName(name); err != nil {
		return nil, err
	}
	data, err := readFile(path, maxSpecBytes)
	if err != nil {
		return nil, err
	}
	payload, err := unframe(data, specMagic, SpecVersion)
	if err != nil {
		return nil, err
	}
	var spec Spec
	if err := json.Unmarshal(payload, &spec); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrCorrupt, err)
	}
	if spec.Version != SpecVersion {
		return nil, fmt.Errorf("%w: payload version %d in a version %d file", ErrCorrupt, spec.Version, SpecVersion)
	}
	if spec.Name != name {
		return nil, fmt.Errorf("%w: holds target %q", ErrCorrupt, spec.Name)
	}
	if err := spec.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &spec, nil
}

// setAside renames the file at path to a free name ending in corruptExt,
// durably, and returns that name.
func (s *Store) setAside(path string) (string, error) {
	for i := 1; i <= 100; i++ {
		aside := path + corruptExt
		if i > 1 {
			aside += "-" + strconv.Itoa(i)
		}
		if _, err := os.Lstat(aside); !errors.Is(err, fs.ErrNotExist) {
			continue // taken (or unreadable): try the next name
		}
		if err := os.Rename(path, aside); err != nil {
			return "", err
		}
		return aside, syncDir(s.dir)
	}
	return "", fmt.Errorf("no free name for %s%s", path, corruptExt)
}
