package nab

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// Profile is a NAB application profile: the cost matrix that weighs true
// positives, false positives and false negatives.
type Profile struct {
	Name string  `json:"name"`
	TP   float64 `json:"tpWeight"` // A_TP: reward for a window's earliest detection.
	FP   float64 `json:"fpWeight"` // A_FP: cost of a detection outside every window.
	FN   float64 `json:"fnWeight"` // A_FN: cost of a window without any detection.
}

// Profiles returns NAB v1.1's three profiles in the order of
// config/profiles.json: standard, reward_low_FP_rate, reward_low_FN_rate.
func Profiles() []Profile {
	return []Profile{
		{Name: "standard", TP: 1, FP: 0.11, FN: 1},
		{Name: "reward_low_FP_rate", TP: 1, FP: 0.22, FN: 1},
		{Name: "reward_low_FN_rate", TP: 1, FP: 0.11, FN: 2},
	}
}

// Validate reports whether every weight is finite and non-negative.
func (p Profile) Validate() error {
	for _, w := range [...]struct {
		name string
		v    float64
	}{{"tp", p.TP}, {"fp", p.FP}, {"fn", p.FN}} {
		if math.IsNaN(w.v) || math.IsInf(w.v, 0) || w.v < 0 {
			return fmt.Errorf("profile %q: %s weight %v: %w", p.Name, w.name, w.v, ErrProfile)
		}
	}
	return nil
}

// loadProfiles reads profiles in the format of NAB's config/profiles.json
// ({"standard": {"CostMatrix": {"tpWeight": 1, ...}}, ...}) and returns them
// in the order they appear in the file.
// The tests check Profiles against NAB's own file with it.
func loadProfiles(r io.Reader) ([]Profile, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var out []Profile
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read profile name: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("profile name %v: %w", tok, ErrFormat)
		}
		var body struct {
			CostMatrix *struct {
				TP *float64 `json:"tpWeight"`
				FP *float64 `json:"fpWeight"`
				FN *float64 `json:"fnWeight"`
			}
		}
		if err := dec.Decode(&body); err != nil {
			return nil, fmt.Errorf("profile %q: %w", name, err)
		}
		cm := body.CostMatrix
		if cm == nil || cm.TP == nil || cm.FP == nil || cm.FN == nil {
			return nil, fmt.Errorf("profile %q: CostMatrix needs tpWeight, fpWeight and fnWeight: %w", name, ErrFormat)
		}
		p := Profile{Name: name, TP: *cm.TP, FP: *cm.FP, FN: *cm.FN}
		if err := p.Validate(); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	return out, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("read profiles: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("profiles: got %v, want %q: %w", tok, want, ErrFormat)
	}
	return nil
}
