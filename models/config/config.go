package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/prescale/prescale/events"
	"github.com/prescale/prescale/models"
)

// Config is the declared set of targets, as read from the --config file.
type Config struct {
	Targets []models.Target
	// Undeclared is a file that does not say "targets" at all: empty, only
	// comments, or null. A reload refuses it when targets are declared, as
	// an emptied or truncated file is far likelier than a wish to withdraw
	// them all ("targets: []" says that).
	Undeclared bool
}

// Load reads and validates the target configuration file at path.
// See Parse for the format and the errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes and validates a YAML target configuration; name is
// the file name used in error messages. The file holds a "targets" list
// whose entries use models.Target's yaml field names; durations are written the
// Prometheus way ("30s", "5m", "1h30m", "14d", "1w"). Absent optional
// fields take the values of models.DefaultTarget. Anchors, aliases and merge
// keys ("<<: *common") may share fields between targets. An empty file, or
// one with an empty list, is a valid configuration with no targets.
//
// Every problem in the file is reported, not only the first: the error
// joins one *models.FieldError per problem, sorted by line, each reading
// "file:line: targets[i].field: message" and wrapping models.ErrConfig. Unknown
// fields, wrong types, missing required fields, duplicate target names and
// values breaking models.Target.Validate's rules are all errors.
func Parse(data []byte, name string) (*Config, error) {
	p := &configParser{file: name}
	cfg := p.parse(data)
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *models.FieldError) int { return a.Line - b.Line })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// configParser walks the YAML node tree, so that every problem can be
// reported with its line, and collects the problems.
type configParser struct {
	file string
	errs []*models.FieldError
	// read holds the fields of each target mapping already read.
	read map[*yaml.Node]map[string]entry
}

func (p *configParser) errorf(line int, field, format string, args ...any) {
	p.errs = append(p.errs, &models.FieldError{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// maxAliasDepth bounds alias and merge-key chains.
const maxAliasDepth = 16

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasDepth; i++ {
		n = n.Alias
	}
	return n
}

func (p *configParser) parse(data []byte) *Config {
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			cfg.Undeclared = true // empty file
			return cfg
		}
		p.syntaxError(data, err)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p.errorf(extra.Line, "", "only one YAML document is allowed")
		return nil
	case !errors.Is(err, io.EOF):
		p.syntaxError(data, err)
		return nil
	}

	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			cfg.Undeclared = true // only comments
			return cfg
		}
		root = resolve(root.Content[0])
	}
	switch {
	case root == nil || isNull(root):
		cfg.Undeclared = true
		return cfg
	case root.Kind != yaml.MappingNode:
		p.errorf(root.Line, "", `must be a mapping with a "targets" list, got %s`, describe(root))
		return nil
	}
	var targets, targetsKey *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case k.Value != "targets":
			p.errorf(k.Line, keyPath(k.Value), "unknown field%s", suggest(k.Value, []string{"targets"}))
		case targetsKey != nil:
			p.errorf(k.Line, k.Value, "duplicate field, first at line %d", targetsKey.Line)
		default:
			targets, targetsKey = resolve(v), k
		}
	}
	if targets == nil || isNull(targets) {
		return cfg
	}
	if targets.Kind != yaml.SequenceNode {
		p.errorf(targets.Line, "targets", "must be a list of targets, got %s", describe(targets))
		return nil
	}

	firstLine := map[string]int{}  // target name → line it was first declared on
	firstIndex := map[string]int{} // target name → index of that declaration
	for i, item := range targets.Content {
		path := "targets[" + strconv.Itoa(i) + "]"
		t, nameLine, ok := p.target(resolve(item), path)
		if nameLine == 0 || t.Name == "" {
			continue // no usable name: already reported
		}
		if l, dup := firstLine[t.Name]; dup {
			p.errorf(nameLine, path+".name", "duplicate target name %q, first declared at %s:%d (targets[%d])",
				t.Name, p.file, l, firstIndex[t.Name])
			continue
		}
		firstLine[t.Name], firstIndex[t.Name] = nameLine, i
		if ok {
			cfg.Targets = append(cfg.Targets, t)
		}
	}
	return cfg
}

// syntaxError reports a YAML syntax error as "file:line: message".
func (p *configParser) syntaxError(data []byte, err error) {
	msg := yamlProblem(err)
	p.errorf(syntaxErrorLine(data, msg), "", "invalid YAML: %s", msg)
}

// yamlProblem is a yaml.v3 error without its "yaml: line N: " prefix.
func yamlProblem(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if _, m, ok := strings.Cut(rest, ": "); ok {
			return m
		}
	}
	return msg
}

// syntaxErrorLine returns the line of the syntax error msg in data: the
// first line whose addition makes the text fail with msg, found by
// bisection. yaml.v3's own line is where the enclosing construct starts,
// or missing when that is the first line, and rarely points at the
// mistake.
func syntaxErrorLine(data []byte, msg string) int {
	var ends []int // ends[i] is the offset just past line i+1
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	ends = append(ends, len(data))
	// Invariant: the first lo lines do not fail with msg, the first hi do.
	lo, hi := 0, len(ends)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if failsWith(data[:ends[mid-1]], msg) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// failsWith reports whether decoding the YAML documents in data fails
// with the problem msg.
func failsWith(data []byte, msg string) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			return !errors.Is(err, io.EOF) && yamlProblem(err) == msg
		}
	}
}

// entry is one field of a target mapping, given directly or merged in
// with "<<: *anchor".
type entry struct {
	key, value *yaml.Node
}

// fields is entries, once per mapping node: an anchored mapping used many
// times is read, and its problems reported, once.
func (p *configParser) fields(n *yaml.Node, path string, depth int) map[string]entry {
	if f, ok := p.read[n]; ok {
		return f
	}
	f := p.entries(n, path, depth)
	if p.read == nil {
		p.read = map[*yaml.Node]map[string]entry{}
	}
	p.read[n] = f
	return f
}

// entries collects the fields of mapping n, with explicit keys taking
// precedence over merged ones, and reports unknown and duplicate keys.
func (p *configParser) entries(n *yaml.Node, path string, depth int) map[string]entry {
	var known []string
	for _, f := range models.TargetFields() {
		known = append(known, f.Name)
	}
	out := map[string]entry{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		name := k.Value
		if k.Kind != yaml.ScalarNode {
			p.errorf(k.Line, path, "field names must be plain strings, got %s", describe(k))
			continue
		}
		if !slices.Contains(known, name) {
			p.errorf(k.Line, path+"."+keyPath(name), "unknown field%s", suggest(name, known))
			continue
		}
		if prev, dup := out[name]; dup {
			p.errorf(k.Line, path+"."+name, "duplicate field, first at line %d", prev.key.Line)
			continue
		}
		out[name] = entry{k, v}
	}
	for _, m := range merges {
		m = resolve(m)
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			src = resolve(src)
			if src.Kind != yaml.MappingNode || depth >= maxAliasDepth {
				p.errorf(src.Line, path, "a merge key (<<) must name a mapping, got %s", describe(src))
				continue
			}
			for name, e := range p.fields(src, path, depth+1) {
				if _, ok := out[name]; !ok {
					out[name] = e
				}
			}
		}
	}
	return out
}

// target decodes and checks one entry of the targets list. It returns the
// line of its name (0 when it has none) for duplicate detection, and ok
// when the target is valid.
func (p *configParser) target(n *yaml.Node, path string) (t models.Target, nameLine int, ok bool) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, path, "must be a mapping of target fields, got %s", describe(n))
		return t, 0, false
	}
	before := len(p.errs)
	fields := p.fields(n, path, 0)
	t = models.DefaultTarget()
	states := map[string]models.FieldState{}
	lines := map[string]int{}
	for _, f := range models.TargetFields() {
		e, given := fields[f.Name]
		if !given {
			states[f.Name] = models.FieldAbsent
			continue
		}
		v := resolve(e.value)
		lines[f.Name] = v.Line
		if !p.decodeField(&t, f, v, path, lines, states) {
			states[f.Name] = models.FieldInvalid
		}
	}
	for _, is := range t.Check(func(f string) models.FieldState { return states[f] }) {
		line, given := lines[is.Field]
		msg := is.Msg
		if !given {
			line = n.Line
			if root, _, _ := strings.Cut(is.Field, "["); states[root] == models.FieldAbsent && is.Msg != "required" {
				msg += " (the default)"
			}
		}
		p.errorf(line, path+"."+is.Field, "%s", msg)
	}
	return t, lines["name"], len(p.errs) == before
}

// decodeField sets field f of t from node v, reporting a wrong type.
// lines and states receive what it learns about a list's elements.
func (p *configParser) decodeField(t *models.Target, f models.TargetField, v *yaml.Node, path string, lines map[string]int, states map[string]models.FieldState) bool {
	field := path + "." + f.Name
	switch dst := f.Addr(t).(type) {
	case *string:
		return p.decodeString(dst, v, field)
	case *time.Duration:
		return p.decodeDuration(dst, v, field)
	case *float64:
		return p.decodeFloat(dst, v, field)
	case *int:
		return p.decodeInt(dst, v, field)
	case *[]time.Duration:
		return p.decodeDurations(dst, v, path, f.Name, lines, states)
	case *[]events.Spec:
		return p.decodeEvents(dst, v, path, f.Name, lines, states)
	default:
		panic(fmt.Sprintf("config: no YAML decoder for target field %s (%T)", f.Name, dst))
	}
}

// decodeDurations sets a list of durations. An element that is not a
// duration is reported, and marked invalid in states, by its own name
// ("seasons[2]"); the list itself is still read.
func (p *configParser) decodeDurations(dst *[]time.Duration, v *yaml.Node, path, name string, lines map[string]int, states map[string]models.FieldState) bool {
	if isNull(v) {
		return true // "seasons:" with nothing is the empty list
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v.Line, path+"."+name, "must be a list of durations, got %s", describe(v))
		return false
	}
	*dst = make([]time.Duration, len(v.Content))
	if len(v.Content) > models.MaxSeasons {
		return true // the elements are left unread: check reports the length
	}
	for i, el := range v.Content {
		el = resolve(el)
		elem := name + "[" + strconv.Itoa(i) + "]"
		lines[elem] = el.Line
		if !p.decodeDuration(&(*dst)[i], el, path+"."+elem) {
			states[elem] = models.FieldInvalid
		}
	}
	return true
}

// decodeEvents sets a list of events, each a mapping of an events.Spec's
// fields. An element that is unreadable is reported, and marked invalid in
// states, by its own name ("events[2]"); the list itself is still read.
func (p *configParser) decodeEvents(dst *[]events.Spec, v *yaml.Node, path, name string, lines map[string]int, states map[string]models.FieldState) bool {
	if isNull(v) {
		return true
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v.Line, path+"."+name, "must be a list of events, got %s", describe(v))
		return false
	}
	*dst = make([]events.Spec, len(v.Content))
	if len(v.Content) > models.MaxTargetEvents {
		return true // the elements are left unread: check reports the length
	}
	known := events.SpecFields()
	for i, el := range v.Content {
		el = resolve(el)
		elem := name + "[" + strconv.Itoa(i) + "]"
		field := path + "." + elem
		lines[elem] = el.Line
		if el.Kind != yaml.MappingNode {
			p.errorf(el.Line, field, "must be a mapping of event fields, got %s", describe(el))
			states[elem] = models.FieldInvalid
			continue
		}
		ok := true
		for j := 0; j+1 < len(el.Content); j += 2 {
			k, val := el.Content[j], resolve(el.Content[j+1])
			switch dst := (*dst)[i].Field(k.Value).(type) {
			case *string:
				ok = p.decodeString(dst, val, field+"."+k.Value) && ok
			case *float64:
				ok = p.decodeFloat(dst, val, field+"."+k.Value) && ok
			default:
				p.errorf(k.Line, field+"."+keyPath(k.Value), "unknown field%s", suggest(k.Value, known))
				ok = false
			}
		}
		if !ok {
			states[elem] = models.FieldInvalid
		}
	}
	return true
}

func (p *configParser) decodeString(dst *string, v *yaml.Node, field string) bool {
	if v.Kind != yaml.ScalarNode || isNull(v) {
		p.errorf(v.Line, field, "must be a string, got %s", describe(v))
		return false
	}
	*dst = v.Value
	return true
}

func (p *configParser) decodeDuration(dst *time.Duration, v *yaml.Node, field string) bool {
	if v.Kind == yaml.ScalarNode && !isNull(v) {
		if d, err := models.ParseDuration(v.Value); err == nil {
			*dst = d
			return true
		}
	}
	p.errorf(v.Line, field, "must be %s, got %s", models.DurationSyntax, describe(v))
	return false
}

func (p *configParser) decodeFloat(dst *float64, v *yaml.Node, field string) bool {
	if v.Kind == yaml.ScalarNode && (v.Tag == "!!int" || v.Tag == "!!float") {
		if err := v.Decode(dst); err == nil {
			return true
		}
	}
	p.errorf(v.Line, field, "must be a number, got %s", describe(v))
	return false
}

func (p *configParser) decodeInt(dst *int, v *yaml.Node, field string) bool {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!int" {
		if err := v.Decode(dst); err == nil {
			return true
		}
	}
	p.errorf(v.Line, field, "must be an integer, got %s", describe(v))
	return false
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe names what a node holds, for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind != yaml.ScalarNode:
		return "an alias"
	case isNull(n):
		return "nothing"
	case n.Tag == "!!int" || n.Tag == "!!float" || n.Tag == "!!bool":
		return n.Value
	}
	return strconv.Quote(n.Value)
}

// keyPath is a mapping key as written in a field path: quoted unless it
// is a plain word.
func keyPath(key string) string {
	for _, r := range key {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' {
			return strconv.Quote(key)
		}
	}
	if key == "" {
		return `""`
	}
	return key
}

// suggest completes an "unknown field" message with the closest known
// name, or the list of known names when none is close.
func suggest(name string, known []string) string {
	best, bestDist := "", math.MaxInt
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if bestDist <= max(2, len(best)/4) {
		return fmt.Sprintf(", did you mean %q?", best)
	}
	return "; known fields are " + strings.Join(known, ", ")
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
