package rendezvous

import (
	"fmt"
	"slices"
	"testing"
)

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("team-%d/web-%d", i%37, i)
	}
	return out
}

// TestOwnershipBalanced checks that each of 3 members owns about a third
// of 30,000 keys, and that Owner is Holders' first.
func TestOwnershipBalanced(t *testing.T) {
	members := []string{"prescale-0", "prescale-1", "prescale-2"}
	owned := map[string]int{}
	for _, k := range keys(30000) {
		o := Owner(k, members)
		if h := Holders(k, members, 1); len(h) != 1 || h[0] != o {
			t.Fatalf("%s: Owner %s, Holders %v", k, o, h)
		}
		owned[o]++
	}
	for _, m := range members {
		if n := owned[m]; n < 9500 || n > 10500 {
			t.Errorf("%s owns %d of 30000 keys, want 10000 ± 5%%: %v", m, n, owned)
		}
	}
}

// TestMembershipChangeMovesOnlyWhatItMust checks rendezvous hashing's
// promise: a member leaving moves only its own keys, each to the member
// that held it second; a member joining takes keys only for itself.
func TestMembershipChangeMovesOnlyWhatItMust(t *testing.T) {
	three := []string{"a", "b", "c"}
	two := []string{"a", "c"}
	four := []string{"a", "b", "c", "d"}
	moved := 0
	for _, k := range keys(20000) {
		before := Holders(k, three, 2)
		if after := Owner(k, two); before[0] != "b" && after != before[0] {
			t.Fatalf("%s moved from %s to %s when b left", k, before[0], after)
		} else if before[0] == "b" && after != before[1] {
			t.Fatalf("%s: b's key went to %s, not to its second holder %s", k, after, before[1])
		}
		if after := Owner(k, four); after != before[0] {
			if after != "d" {
				t.Fatalf("%s moved from %s to %s when d joined", k, before[0], after)
			}
			moved++
		}
	}
	if moved < 4500 || moved > 5500 {
		t.Errorf("d took %d of 20000 keys, want about a quarter", moved)
	}
}

func TestHolders(t *testing.T) {
	members := []string{"x", "y", "z"}
	for _, tc := range []struct {
		name    string
		members []string
		n, want int
	}{
		{"two of three", members, 2, 2},
		{"more than there are", members, 5, 3},
		{"none", nil, 2, 0},
		{"zero wanted", members, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Holders("k", tc.members, tc.n)
			if len(h) != tc.want {
				t.Fatalf("Holders = %v, want %d members", h, tc.want)
			}
			if len(slices.Compact(slices.Sorted(slices.Values(h)))) != len(h) {
				t.Errorf("Holders = %v: a member twice", h)
			}
			// The order of the member list does not matter.
			rev := slices.Clone(tc.members)
			slices.Reverse(rev)
			if h2 := Holders("k", rev, tc.n); !slices.Equal(h, h2) {
				t.Errorf("Holders depends on the members' order: %v, %v", h, h2)
			}
		})
	}
	if o := Owner("k", nil); o != "" {
		t.Errorf("Owner with no members = %q", o)
	}
}
