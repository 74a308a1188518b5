package models

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrConfig is wrapped by every error that reports an invalid target
// configuration, whether it came from a file or through the API.
var ErrConfig = errors.New("models: invalid config")

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

// InField places the problems of err (one error, or several joined, such
// as Target.Validate's) inside the field path: each *FieldError's field
// becomes "path.field" ("targets[1].leadTime", "spec.leadTime"), and any
// other error is prefixed with "path: ".
func InField(path string, err error) []error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		var fe *FieldError
		if !errors.As(e, &fe) {
			out[i] = fmt.Errorf("%s: %w", path, e)
			continue
		}
		c := *fe
		c.Field = path + "." + fe.Field
		out[i] = &c
	}
	return out
}
