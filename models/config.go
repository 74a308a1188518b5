package models

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

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/prescale/prescale/forecast"
)

// ErrConfig is wrapped by every error that reports an invalid target
// configuration, whether it came from a file or through the API.
var ErrConfig = errors.New("models: invalid config")

// Limits on a target's history grid.
const (
	// minHistorySteps is the fewest points a history window may hold.
	minHistorySteps = 2
	// maxHistorySteps bounds the points one fit reads (80 MB of float64).
	maxHistorySteps = 10_000_000
	// maxSeasons bounds the declared seasons; real loads have two or three.
	maxSeasons = 8
)

// Config is the declared set of targets, as read from the --config file.
type Config struct {
	Targets []Target
}

// FieldError is one problem in a target configuration. File and Line are
// set when the configuration came from a file; Field is the path of the
// offending field ("targets[1].capacityPerReplica" in a file,
// "capacityPerReplica" from Target.Validate) and is empty for problems
// with the file as a whole, such as a YAML syntax error.
type FieldError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// Error formats the problem as "file:line: field: message", leaving out
// the parts that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes errors.Is(err, ErrConfig) true.
func (e *FieldError) Unwrap() error { return ErrConfig }

// DefaultTarget returns a Target holding the default of every optional
// field. Loaders start from it and overwrite the fields that are given, so
// a default only ever replaces an absent value, never an invalid one:
//
//	namespace      none (served in every namespace)
//	step           1m
//	history        14d
//	margin         0s
//	quantile       0.9
//	minReplicas    1
//	maxReplicas    100
//	seasons        none (detected from the data)
//	refitInterval  1h
//	model          auto
//	holdFor        10m
//
// Name, Query, CapacityPerReplica and LeadTime have no default: they are
// required.
func DefaultTarget() Target {
	return Target{
		Step:          time.Minute,
		History:       14 * 24 * time.Hour,
		Quantile:      0.9,
		MinReplicas:   1,
		MaxReplicas:   100,
		RefitInterval: time.Hour,
		Model:         forecast.KindAuto,
		HoldFor:       10 * time.Minute,
	}
}

// LoadConfig reads and validates the target configuration file at path.
// See ParseConfig for the format and the errors.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig decodes and validates a YAML target configuration; name is
// the file name used in error messages. The file holds a "targets" list
// whose entries use Target's yaml field names; durations are written the
// Prometheus way ("30s", "5m", "1h30m", "14d", "1w"). Absent optional
// fields take the values of DefaultTarget. Anchors, aliases and merge
// keys ("<<: *common") may share fields between targets. An empty file, or
// one with an empty list, is a valid configuration with no targets.
//
// Every problem in the file is reported, not only the first: the error
// joins one *FieldError per problem, sorted by line, each reading
// "file:line: targets[i].field: message" and wrapping ErrConfig. Unknown
// fields, wrong types, missing required fields, duplicate target names and
// values breaking Target.Validate's rules are all errors.
func ParseConfig(data []byte, name string) (*Config, error) {
	p := &configParser{file: name}
	cfg := p.parse(data)
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *FieldError) int { return a.Line - b.Line })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// Validate checks t against the same rules as a configuration file, for
// targets registered at run time. It does not apply defaults (start from
// DefaultTarget for that). The error joins one *FieldError per problem,
// each naming the field ("quantile: must be between 0 and 1 (exclusive),
// got 1.5") and wrapping ErrConfig.
func (t *Target) Validate() error {
	issues := t.check(nil)
	if len(issues) == 0 {
		return nil
	}
	errs := make([]error, len(issues))
	for i, is := range issues {
		errs[i] = &FieldError{Field: is.field, Msg: is.msg}
	}
	return errors.Join(errs...)
}

// fieldState tells check what a loader knows about a field.
type fieldState uint8

const (
	fieldSet     fieldState = iota // given, with a well-typed value
	fieldAbsent                    // not given: the default, or missing if required
	fieldInvalid                   // given, but already reported as unreadable
)

// issue is one broken rule, by field ("step", "seasons[2]").
type issue struct {
	field string
	msg   string
}

// check applies the rules shared by files and the API. state reports what
// the loader knows about each field (by yaml name); nil means every field
// was given. Fields already reported as unreadable are skipped, as are
// the rules that compare other fields with them.
func (t *Target) check(state func(field string) fieldState) []issue {
	st := func(f string) fieldState {
		if state == nil {
			return fieldSet
		}
		return state(f)
	}
	var out []issue
	add := func(field, format string, args ...any) {
		out = append(out, issue{field, fmt.Sprintf(format, args...)})
	}
	// required reports an absent required field and says whether the
	// field's own rules should run.
	required := func(field string) bool {
		switch st(field) {
		case fieldAbsent:
			add(field, "required")
			return false
		case fieldInvalid:
			return false
		}
		return true
	}
	usable := func(field string) bool { return st(field) != fieldInvalid }

	if required("name") {
		switch {
		case t.Name == "":
			add("name", "required")
		case !isDNSLabel(t.Name):
			add("name", "must be a DNS-1123 label (at most 63 lowercase letters, digits or '-', "+
				"starting and ending with a letter or digit), got %q", t.Name)
		}
	}
	if usable("namespace") && t.Namespace != "" && !isDNSLabel(t.Namespace) {
		add("namespace", "must be empty or a DNS-1123 label (at most 63 lowercase letters, digits or '-', "+
			"starting and ending with a letter or digit), got %q", t.Namespace)
	}
	if required("query") && strings.TrimSpace(t.Query) == "" {
		add("query", "required")
	}

	stepOK := usable("step") && t.Step > 0
	if usable("step") && t.Step <= 0 {
		add("step", "must be positive, got %s", fmtDuration(t.Step))
	}
	historyOK := false
	if usable("history") {
		switch {
		case t.History <= 0:
			add("history", "must be positive, got %s", fmtDuration(t.History))
		case !stepOK:
			historyOK = true
		case t.History < minHistorySteps*t.Step:
			add("history", "must cover at least %d steps (%s), got %s",
				minHistorySteps, fmtDuration(minHistorySteps*t.Step), fmtDuration(t.History))
		case t.History/t.Step > maxHistorySteps:
			add("history", "must cover at most %d steps of %s, got %s (%d steps)",
				maxHistorySteps, fmtDuration(t.Step), fmtDuration(t.History), t.History/t.Step)
		default:
			historyOK = true
		}
	}

	if required("capacityPerReplica") {
		switch c := t.CapacityPerReplica; {
		case !(c > 0):
			add("capacityPerReplica", "must be positive, got %s", fmtFloat(c))
		case math.IsInf(c, 1):
			add("capacityPerReplica", "must be finite, got %s", fmtFloat(c))
		}
	}
	if required("leadTime") && t.LeadTime <= 0 {
		add("leadTime", "must be positive, got %s", fmtDuration(t.LeadTime))
	}
	if usable("margin") && t.Margin < 0 {
		add("margin", "must not be negative, got %s", fmtDuration(t.Margin))
	}
	if usable("quantile") && !(t.Quantile > 0 && t.Quantile < 1) {
		add("quantile", "must be between 0 and 1 (exclusive), got %s", fmtFloat(t.Quantile))
	}

	maxOK := usable("maxReplicas") && t.MaxReplicas >= 1
	if usable("minReplicas") {
		switch {
		case t.MinReplicas < 0:
			add("minReplicas", "must not be negative, got %d", t.MinReplicas)
		case maxOK && t.MinReplicas > t.MaxReplicas:
			add("minReplicas", "must not exceed maxReplicas (%d), got %d", t.MaxReplicas, t.MinReplicas)
		}
	}
	if usable("maxReplicas") && t.MaxReplicas < 1 {
		add("maxReplicas", "must be at least 1, got %d", t.MaxReplicas)
	}

	seasons := t.Seasons
	if usable("seasons") && len(seasons) > maxSeasons {
		add("seasons", "must list at most %d seasons, got %d", maxSeasons, len(seasons))
		seasons = nil
	}
	for i, s := range seasons {
		field := "seasons[" + strconv.Itoa(i) + "]"
		if !usable(field) {
			continue
		}
		switch {
		case s <= 0:
			add(field, "must be positive, got %s", fmtDuration(s))
		case stepOK && s%t.Step != 0:
			add(field, "must be a whole multiple of step (%s), got %s", fmtDuration(t.Step), fmtDuration(s))
		case historyOK && s > t.History/2:
			add(field, "must be at most half of history (%s), got %s", fmtDuration(t.History/2), fmtDuration(s))
		default:
			if j := slices.Index(seasons[:i], s); j >= 0 {
				add(field, "duplicates seasons[%d] (%s)", j, fmtDuration(s))
			}
		}
	}

	if usable("refitInterval") {
		switch {
		case t.RefitInterval <= 0:
			add("refitInterval", "must be positive, got %s", fmtDuration(t.RefitInterval))
		case stepOK && t.RefitInterval < t.Step:
			add("refitInterval", "must be at least step (%s), got %s", fmtDuration(t.Step), fmtDuration(t.RefitInterval))
		}
	}
	if usable("model") && !slices.Contains(forecast.Kinds(), t.Model) {
		add("model", "must be one of %s, got %q", strings.Join(forecast.Kinds(), ", "), t.Model)
	}
	if usable("holdFor") && t.HoldFor < 0 {
		add("holdFor", "must not be negative, got %s", fmtDuration(t.HoldFor))
	}
	return out
}

// isDNSLabel reports whether s is an RFC 1123 label, as Kubernetes object
// names are.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// fmtDuration prints d the way the file writes it ("90s" as "1m30s",
// "336h" as "2w").
func fmtDuration(d time.Duration) string {
	if d%time.Millisecond != 0 {
		return d.String()
	}
	return model.Duration(d).String()
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// configParser walks the YAML node tree, so that every problem can be
// reported with its line, and collects the problems.
type configParser struct {
	file string
	errs []*FieldError
	// read holds the fields of each target mapping already read.
	read map[*yaml.Node]map[string]entry
}

func (p *configParser) errorf(line int, field, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
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
			return cfg // empty file
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
			return cfg // only comments
		}
		root = resolve(root.Content[0])
	}
	switch {
	case root == nil || isNull(root):
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

// targetFields returns the yaml names of Target's fields, in declaration
// order.
func targetFields() []string {
	return []string{
		"name", "namespace", "query", "step", "history", "capacityPerReplica", "leadTime", "margin", "quantile",
		"minReplicas", "maxReplicas", "seasons", "refitInterval", "model", "holdFor",
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
	known := targetFields()
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
func (p *configParser) target(n *yaml.Node, path string) (t Target, nameLine int, ok bool) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, path, "must be a mapping of target fields, got %s", describe(n))
		return t, 0, false
	}
	before := len(p.errs)
	fields := p.fields(n, path, 0)
	t = DefaultTarget()
	states := map[string]fieldState{}
	lines := map[string]int{}
	for _, f := range targetFields() {
		e, given := fields[f]
		if !given {
			states[f] = fieldAbsent
			continue
		}
		v := resolve(e.value)
		lines[f] = v.Line
		if !p.decodeField(&t, f, v, path, lines, states) {
			states[f] = fieldInvalid
		}
	}
	for _, is := range t.check(func(f string) fieldState { return states[f] }) {
		line, given := lines[is.field]
		msg := is.msg
		if !given {
			line = n.Line
			if root, _, _ := strings.Cut(is.field, "["); states[root] == fieldAbsent && is.msg != "required" {
				msg += " (the default)"
			}
		}
		p.errorf(line, path+"."+is.field, "%s", msg)
	}
	return t, lines["name"], len(p.errs) == before
}

// decodeField sets field f of t from node v, reporting a wrong type.
// lines and states receive what it learns about seasons' elements.
func (p *configParser) decodeField(t *Target, f string, v *yaml.Node, path string, lines map[string]int, states map[string]fieldState) bool {
	field := path + "." + f
	switch f {
	case "name":
		return p.decodeString(&t.Name, v, field)
	case "namespace":
		return p.decodeString(&t.Namespace, v, field)
	case "query":
		return p.decodeString(&t.Query, v, field)
	case "model":
		return p.decodeString(&t.Model, v, field)
	case "step":
		return p.decodeDuration(&t.Step, v, field)
	case "history":
		return p.decodeDuration(&t.History, v, field)
	case "leadTime":
		return p.decodeDuration(&t.LeadTime, v, field)
	case "margin":
		return p.decodeDuration(&t.Margin, v, field)
	case "refitInterval":
		return p.decodeDuration(&t.RefitInterval, v, field)
	case "holdFor":
		return p.decodeDuration(&t.HoldFor, v, field)
	case "capacityPerReplica":
		return p.decodeFloat(&t.CapacityPerReplica, v, field)
	case "quantile":
		return p.decodeFloat(&t.Quantile, v, field)
	case "minReplicas":
		return p.decodeInt(&t.MinReplicas, v, field)
	case "maxReplicas":
		return p.decodeInt(&t.MaxReplicas, v, field)
	case "seasons":
		if isNull(v) {
			return true // "seasons:" with nothing is the empty list
		}
		if v.Kind != yaml.SequenceNode {
			p.errorf(v.Line, field, "must be a list of durations, got %s", describe(v))
			return false
		}
		if len(v.Content) > maxSeasons {
			// Leave the elements unread: check reports the length.
			t.Seasons = make([]time.Duration, len(v.Content))
			return true
		}
		t.Seasons = make([]time.Duration, len(v.Content))
		for i, el := range v.Content {
			el = resolve(el)
			name := "seasons[" + strconv.Itoa(i) + "]"
			lines[name] = el.Line
			if !p.decodeDuration(&t.Seasons[i], el, path+"."+name) {
				states[name] = fieldInvalid
			}
		}
		return true
	}
	panic("models: no decoder for target field " + f) // targetFields and this switch disagree
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
		if d, err := model.ParseDurationAllowNegative(v.Value); err == nil {
			*dst = time.Duration(d)
			return true
		}
	}
	p.errorf(v.Line, field, "must be a duration such as 30s, 5m, 1h30m, 14d or 1w, got %s", describe(v))
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
