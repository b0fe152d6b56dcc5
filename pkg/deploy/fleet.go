package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Fleet is a route's set of target databases, deployed in waves (PGMI_ROUTES):
//
//	{"prefix":"tenants/","fleet":{"databases":"SELECT datname FROM pg_database WHERE datname LIKE 'tenant\\_%' ORDER BY 1",
//	  "waves":[1,"10%","100%"],"maxFailures":"5%","concurrency":8}}
//
// Databases is a query run on the maintenance database (its first column,
// in its order) or a literal list. Waves are cumulative sizes, counts or
// percentages of the fleet; targets left after the last wave form one
// more. MaxFailures is the rollout's failure budget (count or percentage,
// default 0): a wave that closes with more failures than that halts the
// rollout. Concurrency is the ceiling the platform enforces (and pgmi
// local's worker pool): at most that many targets deploy at once.
type Fleet struct {
	Databases   json.RawMessage   `json:"databases"`
	Waves       []json.RawMessage `json:"waves"`
	MaxFailures json.RawMessage   `json:"maxFailures,omitempty"`
	Concurrency int               `json:"concurrency,omitempty"`
}

// DefaultFleetConcurrency is a fleet's concurrency when the route gives none.
const DefaultFleetConcurrency = 8

// FleetSpec is a Fleet checked and decoded.
type FleetSpec struct {
	Query       string    `json:"query,omitempty"`
	List        []string  `json:"list,omitempty"`
	Waves       []Portion `json:"waves"`
	MaxFailures Portion   `json:"maxFailures"`
	Concurrency int       `json:"concurrency"`
}

// Portion is a count or a percentage of a fleet.
type Portion struct {
	Count   int     `json:"count,omitempty"`
	Percent float64 `json:"percent,omitempty"`
}

func (p Portion) String() string {
	if p.Percent > 0 {
		return strconv.FormatFloat(p.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(p.Count)
}

// of is the portion of a fleet of n targets: a percentage rounds up for
// waves (a 10% wave of 5 targets deploys one) and down for the failure
// budget (floor), see resolveWaves and budget.
func (p Portion) of(n int, up bool) int {
	if p.Percent == 0 {
		return p.Count
	}
	v := p.Percent * float64(n) / 100
	if up {
		return int(math.Ceil(v - 1e-9))
	}
	return int(math.Floor(v + 1e-9))
}

func parsePortion(raw json.RawMessage, what string) (Portion, error) {
	raw = bytes.TrimSpace(raw)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Portion{}, fmt.Errorf("%s: %v", what, err)
	}
	switch x := v.(type) {
	case json.Number:
		i, err := strconv.Atoi(x.String())
		if err != nil || i < 0 {
			return Portion{}, fmt.Errorf("%s %s: want a whole number ≥ 0 or a percentage such as \"10%%\"", what, x)
		}
		return Portion{Count: i}, nil
	case string:
		s, ok := strings.CutSuffix(strings.TrimSpace(x), "%")
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if !ok || err != nil || f < 0 || f > 100 || math.IsNaN(f) {
			return Portion{}, fmt.Errorf("%s %q: want a percentage between 0%% and 100%% such as \"10%%\", or a whole number", what, x)
		}
		if f == 0 {
			return Portion{}, nil
		}
		return Portion{Percent: f}, nil
	}
	return Portion{}, fmt.Errorf("%s %s: want a whole number or a percentage such as \"10%%\"", what, raw)
}

// spec checks a route's fleet and decodes it.
func (f *Fleet) spec() (*FleetSpec, error) {
	s := &FleetSpec{Concurrency: f.Concurrency}
	raw := bytes.TrimSpace(f.Databases)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, fmt.Errorf("fleet has no databases: give a query on the maintenance database or a list of names")
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &s.Query); err != nil {
			return nil, fmt.Errorf("fleet databases: %v", err)
		}
		if strings.TrimSpace(s.Query) == "" {
			return nil, fmt.Errorf("fleet databases: the query is empty")
		}
	case raw[0] == '[':
		if err := json.Unmarshal(raw, &s.List); err != nil {
			return nil, fmt.Errorf("fleet databases: want a query string or a list of names: %v", err)
		}
		seen := map[string]bool{}
		for _, db := range s.List {
			if err := checkDatabase(db); err != nil {
				return nil, fmt.Errorf("fleet databases: %v", err)
			}
			if seen[db] {
				return nil, fmt.Errorf("fleet databases: %q is listed twice", db)
			}
			seen[db] = true
		}
	default:
		return nil, fmt.Errorf("fleet databases: want a query string or a list of names")
	}
	if len(f.Waves) == 0 {
		return nil, fmt.Errorf("fleet has no waves: give cumulative sizes such as [1, \"10%%\", \"100%%\"]")
	}
	for i, w := range f.Waves {
		p, err := parsePortion(w, fmt.Sprintf("wave %d", i+1))
		if err != nil {
			return nil, err
		}
		if p == (Portion{}) {
			return nil, fmt.Errorf("wave %d is empty: a wave deploys at least one target", i+1)
		}
		if i > 0 {
			prev := s.Waves[i-1]
			if (p.Percent > 0) == (prev.Percent > 0) && (p.Count < prev.Count || p.Percent > 0 && p.Percent < prev.Percent) {
				return nil, fmt.Errorf("wave %d (%s) is smaller than wave %d (%s): waves are cumulative", i+1, p, i, prev)
			}
		}
		s.Waves = append(s.Waves, p)
	}
	if len(f.MaxFailures) > 0 {
		p, err := parsePortion(f.MaxFailures, "maxFailures")
		if err != nil {
			return nil, err
		}
		s.MaxFailures = p
	}
	switch {
	case s.Concurrency == 0:
		s.Concurrency = DefaultFleetConcurrency
	case s.Concurrency < 0:
		return nil, fmt.Errorf("fleet concurrency %d: want at least 1", s.Concurrency)
	}
	return s, nil
}

// resolveWaves gives each of n targets (in fleet order) its wave, 0-based:
// the cumulative sizes of the spec's waves, a wave that adds nothing
// dropped, the targets after the last wave in one more. It returns the
// number of waves.
func (s *FleetSpec) resolveWaves(n int) (wave []int, waves int) {
	wave = make([]int, n)
	done := 0
	for _, p := range s.Waves {
		upto := min(p.of(n, true), n)
		if upto <= done {
			continue
		}
		for i := done; i < upto; i++ {
			wave[i] = waves
		}
		done = upto
		waves++
	}
	if done < n {
		for i := done; i < n; i++ {
			wave[i] = waves
		}
		waves++
	}
	return wave, waves
}

// budget is how many failed targets a rollout over n targets tolerates.
func (s *FleetSpec) budget(n int) int { return s.MaxFailures.of(n, false) }
