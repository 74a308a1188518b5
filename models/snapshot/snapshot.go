package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/forecast"
	"github.com/prescale/prescale/models"
)

// Snapshot errors. Callers test them with errors.Is.
var (
	// ErrCorrupt is a snapshot file that is not a complete, intact
	// snapshot: empty, truncated, wrong magic, wrong checksum, bad JSON or
	// an unusable model. The service refits the target.
	ErrCorrupt = errors.New("snapshot: corrupt snapshot")
	// ErrVersion is a snapshot file written in another format version
	// (older, or newer than this binary knows). The service refits.
	ErrVersion = errors.New("snapshot: unsupported snapshot version")
	// ErrNotFound is a target with no snapshot.
	ErrNotFound = errors.New("snapshot: snapshot not found")
	// ErrName is a target name that cannot name a snapshot file.
	ErrName = errors.New("snapshot: invalid snapshot name")
	// ErrInvalid is a snapshot that Save refuses to write.
	ErrInvalid = errors.New("snapshot: invalid snapshot")
)

// Version is the snapshot format this binary writes and reads.
// Bump it whenever the meaning of the payload changes incompatibly
// (including an incompatible change to forecast.Fitted): files of any other
// version are rejected with ErrVersion and the target is refitted.
//
// Version 2: a harmonic regression no longer holds coefficients for the
// harmonics of a longer season that a shorter one carries (a week's 7th
// is a day's 1st), so a version 1 model of a day and a week would be read
// with the wrong coefficients.
const Version = 2

// The file format, one file per target, named <name>.snap:
//
//	prescale-snapshot <version> <payload length> <sha256 of payload, hex>\n
//	<payload: the Snapshot as one JSON document>
//
// The header is one ASCII line of four space-separated fields. Magic and
// version come first so that a reader can tell another format version
// (ErrVersion) from damage (ErrCorrupt) before it parses anything else;
// the length tells a truncated file from one with trailing bytes, and the
// checksum catches everything else. Files are written atomically (a
// temporary file in the same directory, fsync, rename, fsync of the
// directory), so after a crash a snapshot is either the previous complete
// version or the new one, never a mix.
const (
	snapshotMagic  = "prescale-snapshot"
	snapshotExt    = ".snap"
	snapshotTemp   = ".tmp-" // prefix of temporary files; names never start with "."
	snapshotHeader = 128     // bytes a header line may take, newline included
	// maxSnapshotBytes bounds what Load reads, so a damaged length or a
	// stray huge file cannot exhaust memory. A fitted model with weekly
	// seasons at minute resolution is a few MiB.
	maxSnapshotBytes = 256 << 20
	// maxSnapshotName keeps <name>.snap within NAME_MAX (255 bytes).
	maxSnapshotName = 250
)

// Snapshot is one target's model state as saved on disk, so that a
// restarted service serves at once and refits in the background.
type Snapshot struct {
	// Version is the format version (Version); Save sets it.
	Version int `json:"version"`
	// Name is the target's name; it also names the file.
	Name string `json:"name"`
	// Origin is where the target was declared (registry.OriginConfig, registry.OriginAPI,
	// ...): a restarted service registers the targets created through the
	// API or by KEDA again from their snapshots. Empty in files written
	// before it existed, which are read as config targets.
	Origin string `json:"origin,omitempty"`
	// OwnSpec says that the target's declaration is kept in a spec file
	// of its own (SaveSpec), as every API and KEDA target's is since spec
	// files exist: such a snapshot alone never registers its target again
	// (its spec was deleted with the target). False in files written
	// before, whose API and KEDA targets the snapshot alone registers.
	OwnSpec bool `json:"own_spec,omitempty"`
	// models.Target is the configuration the model was fitted for. A service
	// compares it with the current configuration to tell whether the
	// model still applies (same query, step, history, seasons, kind).
	Target models.Target `json:"target"`
	// Model is the fitted forecaster, with its state advanced through
	// every observation up to LastObserved.
	Model *forecast.Fitted `json:"model"`
	// Generation counts the fits of this target; with Model.Model it is
	// the model version reported in explanations.
	Generation uint64 `json:"generation"`
	// FittedAt is when the model was fitted.
	FittedAt time.Time `json:"fitted_at"`
	// DataStart and DataEnd are the timestamps of the first and last
	// points of the history the model was fitted on.
	DataStart time.Time `json:"data_start"`
	DataEnd   time.Time `json:"data_end"`
	// Step is the spacing of the grid the model observes.
	Step time.Duration `json:"step"`
	// LastObserved is the timestamp of the last observation the model has
	// seen (DataEnd, or later after streaming updates). A restarted
	// service feeds the model the points after it, LastObserved+Step
	// onwards, to continue the grid.
	LastObserved time.Time `json:"last_observed"`
	// LastGoodReplicas and LastGoodAt are the last recommendation made
	// from fresh data, so that a restart during a Prometheus outage still
	// holds it instead of scaling down. Zero when there was none.
	LastGoodReplicas int       `json:"last_good_replicas,omitempty"`
	LastGoodAt       time.Time `json:"last_good_at,omitzero"`
	// Effects are the effects of the target's known events learned at the
	// fit, for its calendar (Target.Events): a restarted service restores
	// them, so that its events are provisioned for before the next fit.
	// Nil without events, and in files written before it existed.
	Effects *events.State `json:"effects,omitempty"`
}

// check reports what is wrong with a snapshot's contents, or nil.
func (s *Snapshot) check() error {
	switch {
	case s.Model == nil:
		return errors.New("no model")
	case s.Target.Name != s.Name:
		return fmt.Errorf("target name %q differs from snapshot name %q", s.Target.Name, s.Name)
	case s.Step <= 0:
		return fmt.Errorf("step %v is not positive", s.Step)
	case s.DataEnd.Before(s.DataStart):
		return fmt.Errorf("data window ends (%v) before it starts (%v)", s.DataEnd, s.DataStart)
	case s.LastObserved.Before(s.DataEnd):
		return fmt.Errorf("last observation (%v) is before the end of the data window (%v)", s.LastObserved, s.DataEnd)
	case s.LastGoodReplicas < 0:
		return fmt.Errorf("last good replicas %d is negative", s.LastGoodReplicas)
	}
	return nil
}

// checkSnapshotName accepts names that are safe as a file name on any
// file system: 1 to 250 characters of lower-case letters, digits, '-' and
// '.', starting and ending with a letter or digit (a DNS-1123 subdomain of
// at most 250 characters, which every DNS-1123 label is). This rules out
// path separators, "." and "..", hidden and temporary file names, and
// case-folding collisions.
func checkSnapshotName(name string) error {
	if name == "" || len(name) > maxSnapshotName {
		return fmt.Errorf("%w: %q must have 1 to %d characters", ErrName, name, maxSnapshotName)
	}
	alnum := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '-' && c != '.' {
			return fmt.Errorf("%w: %q has character %q (want a-z, 0-9, '-' or '.')", ErrName, name, c)
		}
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return fmt.Errorf("%w: %q must start and end with a letter or digit", ErrName, name)
	}
	return nil
}

// encodeSnapshot returns the file contents for s, which has been checked.
func encodeSnapshot(s *Snapshot) ([]byte, error) {
	payload, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("%w: encode %q: %w", ErrInvalid, s.Name, err)
	}
	return frame(snapshotMagic, Version, payload), nil
}

// frame puts the header line of a file of kind magic before its payload.
func frame(magic string, version int, payload []byte) []byte {
	sum := sha256.Sum256(payload)
	header := fmt.Sprintf("%s %d %d %s\n", magic, version, len(payload), hex.EncodeToString(sum[:]))
	return append([]byte(header), payload...)
}

// decodeSnapshot parses and verifies a snapshot file's contents. Every
// failure wraps ErrCorrupt or ErrVersion.
func decodeSnapshot(data []byte) (*Snapshot, error) {
	payload, err := unframe(data, snapshotMagic, Version)
	if err != nil {
		return nil, err
	}
	var s Snapshot
	if err := json.Unmarshal(payload, &s); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrCorrupt, err)
	}
	if s.Version != Version {
		return nil, fmt.Errorf("%w: payload version %d in a version %d file", ErrCorrupt, s.Version, Version)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	// Forecast checks every component's state (forecast.ErrBadState).
	if _, err := s.Model.Forecast(1, nil); err != nil {
		return nil, fmt.Errorf("%w: model: %w", ErrCorrupt, err)
	}
	// The effects' names are checked against the calendar as they are
	// restored: compiling it here would compile it twice at every start.
	if err := s.Effects.Check(); err != nil {
		return nil, fmt.Errorf("%w: effects: %w", ErrCorrupt, err)
	}
	return &s, nil
}

// unframe checks the header line of a file of kind magic written in
// version and returns its payload. Every failure wraps ErrCorrupt or
// ErrVersion.
func unframe(data []byte, magic string, version int) ([]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrCorrupt)
	}
	nl := bytes.IndexByte(data[:min(len(data), snapshotHeader)], '\n')
	if nl < 0 {
		if !bytes.HasPrefix(data, []byte(magic+" ")) {
			return nil, fmt.Errorf("%w: no %q header", ErrCorrupt, magic)
		}
		return nil, fmt.Errorf("%w: header line unterminated", ErrCorrupt)
	}
	fields := strings.Split(string(data[:nl]), " ")
	if fields[0] != magic {
		return nil, fmt.Errorf("%w: no %q header", ErrCorrupt, magic)
	}
	if len(fields) < 2 {
		return nil, fmt.Errorf("%w: header has no version", ErrCorrupt)
	}
	v, err := strconv.Atoi(fields[1])
	if err != nil {
		return nil, fmt.Errorf("%w: header version %q", ErrCorrupt, fields[1])
	}
	if v != version {
		return nil, fmt.Errorf("%w: version %d, this binary reads version %d", ErrVersion, v, version)
	}
	if len(fields) != 4 {
		return nil, fmt.Errorf("%w: header has %d fields, want 4", ErrCorrupt, len(fields))
	}
	length, err := strconv.Atoi(fields[2])
	if err != nil || length < 0 || strconv.Itoa(length) != fields[2] {
		return nil, fmt.Errorf("%w: header length %q", ErrCorrupt, fields[2])
	}
	want, err := hex.DecodeString(fields[3])
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("%w: header checksum %q", ErrCorrupt, fields[3])
	}
	payload := data[nl+1:]
	if len(payload) < length {
		return nil, fmt.Errorf("%w: truncated: %d of %d payload bytes", ErrCorrupt, len(payload), length)
	}
	if len(payload) > length {
		return nil, fmt.Errorf("%w: %d bytes after the %d-byte payload", ErrCorrupt, len(payload)-length, length)
	}
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], want) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return payload, nil
}

// Store keeps one snapshot file per target in a directory. Its methods
// are safe for concurrent use. One process owns a directory: a Store
// removes the temporary files it finds there as leftovers of a crash.
type Store struct {
	dir string
	// mu is held shared by every Save from temporary file to rename, and
	// exclusively while temporary files are cleaned up, so cleaning never
	// removes a file that a Save is writing.
	mu sync.RWMutex
}

// Open opens the snapshot directory dir, creating it if needed, and
// removes temporary files left by a crash.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("open snapshot store: %w: empty directory", ErrInvalid)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	s := &Store{dir: dir}
	if _, err := s.clean(snapshotExt); err != nil {
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// path is the file of the snapshot of target name.
func (s *Store) path(name string) string { return filepath.Join(s.dir, name+snapshotExt) }

// Save writes the snapshot of snap.Name atomically, replacing any previous
// one: a crash at any point leaves the previous file or the new one. It
// writes snap with Version set to Version and does not modify it.
func (s *Store) Save(snap *Snapshot) error {
	if snap == nil {
		return fmt.Errorf("save snapshot: %w: nil", ErrInvalid)
	}
	if err := checkSnapshotName(snap.Name); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	c := *snap
	c.Version = Version
	if err := c.check(); err != nil {
		return fmt.Errorf("save snapshot %q: %w: %w", snap.Name, ErrInvalid, err)
	}
	data, err := encodeSnapshot(&c)
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	// The temporary file's name starts with the target's, for whoever
	// looks at the directory, but stays well under NAME_MAX (255).
	pattern := snapshotTemp + snap.Name[:min(len(snap.Name), 64)] + "-*"
	if err := writeFileAtomic(s.dir, pattern, s.path(snap.Name), data); err != nil {
		return fmt.Errorf("save snapshot %q: %w", snap.Name, err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in dir:
// write, fsync, rename over path, fsync dir.
func writeFileAtomic(dir, pattern, path string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes the directory's entries (a rename, a removal) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Load reads and verifies the snapshot of target name. A missing one is
// ErrNotFound; a damaged one wraps ErrCorrupt, another format
// version ErrVersion.
func (s *Store) Load(name string) (*Snapshot, error) {
	if err := checkSnapshotName(name); err != nil {
		return nil, fmt.Errorf("load snapshot: %w", err)
	}
	return s.load(name)
}

func (s *Store) load(name string) (*Snapshot, error) {
	path := s.path(name)
	data, err := readFile(path, maxSnapshotBytes)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load snapshot %s: %w", path, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load snapshot %s: %w", path, err)
	}
	snap, err := decodeSnapshot(data)
	if err != nil {
		return nil, fmt.Errorf("load snapshot %s: %w", path, err)
	}
	if snap.Name != name {
		return nil, fmt.Errorf("load snapshot %s: %w: holds target %q", path, ErrCorrupt, snap.Name)
	}
	return snap, nil
}

// readFile reads a regular file of at most limit bytes; a larger one is
// ErrCorrupt.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrCorrupt)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrCorrupt, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrCorrupt, limit)
	}
	return data, nil
}

// LoadAll loads every snapshot in the store, in name order. A file that
// cannot be used is a problem, not a failure: each problem names the file
// and wraps ErrCorrupt, ErrVersion, ErrName (a .snap file whose
// name is not a target name) or the I/O error, and the caller refits those
// targets. Temporary files left by a crash are ignored and removed.
func (s *Store) LoadAll() (snaps []*Snapshot, problems []error) {
	names, err := s.clean(snapshotExt)
	if err != nil {
		return nil, []error{fmt.Errorf("load snapshots: %w", err)}
	}
	for _, file := range names {
		name := strings.TrimSuffix(file, snapshotExt)
		if err := checkSnapshotName(name); err != nil {
			problems = append(problems, fmt.Errorf("load snapshot %s: %w", filepath.Join(s.dir, file), err))
			continue
		}
		snap, err := s.load(name)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			problems = append(problems, err)
			continue
		}
		snaps = append(snaps, snap)
	}
	return snaps, problems
}

// clean removes leftover temporary files (of snapshots and specs) and
// returns the names of the files ending in ext, sorted.
func (s *Store) clean(ext string) (files []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	removed := false
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, snapshotTemp) && e.Type().IsRegular():
			if err := os.Remove(filepath.Join(s.dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("remove leftover: %w", err)
			}
			removed = true
		case strings.HasSuffix(n, ext) && !strings.HasPrefix(n, "."):
			files = append(files, n)
		}
	}
	if removed {
		if err := syncDir(s.dir); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// Delete removes the snapshot of target name. A missing one is
// ErrNotFound.
func (s *Store) Delete(name string) error {
	if err := checkSnapshotName(name); err != nil {
		return fmt.Errorf("delete snapshot: %w", err)
	}
	if err := s.remove(s.path(name)); err != nil {
		return fmt.Errorf("delete snapshot: %w", err)
	}
	return nil
}
