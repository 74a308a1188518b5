package models

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
)

// objectNameHash is how many hex digits of a hash end a derived name that
// had to be shortened.
const objectNameHash = 8

// ObjectTargetName derives a target name from a Kubernetes object's
// namespace and name (a KEDA ScaledObject's, a PredictiveAutoscaler's):
// "<namespace>-<name>", lowercased, with every character a DNS-1123 label
// cannot hold replaced by '-'. A name that had non-ASCII
// characters replaced, or is longer than 63, is cut to leave room for a
// hash of the whole at its end, so that names differing only in those
// characters, or past the cut, stay apart. Empty when name is.
func ObjectTargetName(namespace, name string) string {
	if name == "" {
		return ""
	}
	full := name
	if namespace != "" {
		full = namespace + "-" + name
	}
	// '-' stands for the '.' and '_' of Kubernetes names, but not for
	// other alphabets (nor does ToLower, which maps the Kelvin sign to 'k').
	lossy := strings.ContainsFunc(full, func(r rune) bool { return r >= utf8.RuneSelf })
	b := []byte(strings.ToLower(full))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	label := strings.Trim(string(b), "-")
	const maxLabel = validation.DNS1123LabelMaxLength
	if len(label) <= maxLabel && !lossy {
		return label
	}
	h := fnv.New32a()
	h.Write([]byte(namespace + "/" + name))
	suffix := fmt.Sprintf("%0*x", objectNameHash, h.Sum32())
	label = strings.TrimRight(label[:min(len(label), maxLabel-objectNameHash-1)], "-")
	if label == "" {
		return suffix
	}
	return label + "-" + suffix
}
