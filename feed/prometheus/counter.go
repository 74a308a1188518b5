package prometheus

import "strings"

// counterFuncs take a counter's range and give something that does not
// grow without bound; a counter read through them is the user's intent.
var counterFuncs = map[string]bool{
	"rate": true, "irate": true, "increase": true, "resets": true,
	"changes": true, "deriv": true, "delta": true, "idelta": true,
}

// notMetrics are the PromQL words that look like identifiers but are not
// metric names.
var notMetrics = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true,
	"offset": true, "inf": true, "nan": true,
}

// labelLists are the keywords followed by a parenthesized list of labels.
var labelLists = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// rawCounters returns the metric names in query that look like counters
// (ending in _total, _count, _sum or _bucket) and are not inside a call
// of one of counterFuncs. It is a heuristic over PromQL's tokens, not a
// parser: it exists to warn, and a false warning costs a log line.
func rawCounters(query string) []string {
	var (
		found []string
		stack []bool // per open parenthesis: is it a counter function's call?
	)
	inCounterFunc := func() bool {
		for _, ok := range stack {
			if ok {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(query, i)
		case c == '{':
			i = skipUntil(query, i+1, '}')
		case c == '[':
			i = skipUntil(query, i+1, ']')
		case c == '#': // a comment runs to the end of the line
			for i < len(query) && query[i] != '\n' {
				i++
			}
		case c == '(':
			stack = append(stack, false)
			i++
		case c == ')':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			i++
		case c >= '0' && c <= '9' || c == '.':
			// A number or a duration: 0.9, 1e3, 0x1f, 5m.
			for i < len(query) && (isIdentChar(query[i]) || query[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(query) && isIdentChar(query[j]) {
				j++
			}
			word := query[i:j]
			k := j
			for k < len(query) && (query[k] == ' ' || query[k] == '\t' || query[k] == '\n' || query[k] == '\r') {
				k++
			}
			lower := strings.ToLower(word)
			switch {
			case labelLists[lower] && k < len(query) && query[k] == '(':
				i = skipUntil(query, k+1, ')')
				continue
			case k < len(query) && query[k] == '(':
				stack = append(stack, counterFuncs[word])
				i = k + 1
				continue
			case notMetrics[lower]:
			case isCounterName(word) && !inCounterFunc():
				found = append(found, word)
			}
			i = j
		default:
			i++
		}
	}
	return found
}

func isCounterName(name string) bool {
	for _, suffix := range []string{"_total", "_count", "_sum", "_bucket"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// skipString returns the index just after the string literal at i.
func skipString(s string, i int) int {
	quote := s[i]
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quote != '`' {
				i++
			}
		case quote:
			return i + 1
		}
	}
	return len(s)
}

// skipUntil returns the index just after the first close at or after i
// that is not inside a string literal.
func skipUntil(s string, i int, close byte) int {
	for i < len(s) {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
			continue
		case close:
			return i + 1
		}
		i++
	}
	return len(s)
}
