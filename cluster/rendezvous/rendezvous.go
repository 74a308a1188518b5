// Package rendezvous ranks members for a key by rendezvous (highest random
// weight) hashing, the same in every process and every version: which
// replica of prescale owns and holds each target.
package rendezvous

import (
	"cmp"
	"hash/fnv"
	"slices"
)

// Holders returns the n members (all of them when fewer) ranked first for
// key by rendezvous (highest random weight) hashing: each member's weight
// for a key is a hash of both, and the highest weights hold the key. A
// member joining takes from each other member only the keys it now ranks
// first for; a member leaving hands each of its keys to that key's next
// member, and nothing else moves. The owner is Holders(key, members, 1).
// Ties, which need a 64-bit collision, go to the smaller name.
func Holders(key string, members []string, n int) []string {
	type ranked struct {
		name   string
		weight uint64
	}
	rs := make([]ranked, len(members))
	for i, m := range members {
		rs[i] = ranked{m, weight(m, key)}
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		if c := cmp.Compare(b.weight, a.weight); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	out := make([]string, 0, min(n, len(rs)))
	for _, r := range rs[:min(n, len(rs))] {
		out = append(out, r.name)
	}
	return out
}

// Owner returns the member ranked first for key, or "" when there is none:
// Holders(key, members, 1) without the sort.
func Owner(key string, members []string) string {
	var best string
	var bestWeight uint64
	for _, m := range members {
		w := weight(m, key)
		if best == "" || w > bestWeight || (w == bestWeight && m < best) {
			best, bestWeight = m, w
		}
	}
	return best
}

// weight is the member's weight for key: FNV-1a of both, separated by a
// byte neither holds, finished by splitmix64's mixer so that names that
// differ in one character get unrelated weights. It is the same in every
// replica and every version: ownership must not change on an upgrade.
func weight(member, key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(member))
	h.Write([]byte{0})
	h.Write([]byte(key))
	z := h.Sum64()
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
