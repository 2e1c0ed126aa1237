package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a rule timeout. On input it is either a Go duration string
// ("15m", "1h30m") or an integer number of seconds (900); it always encodes
// as a string. Zero means unset. Negative values decode, so that Validate can
// report them with their location, but never compile.
type Duration time.Duration

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON encodes d as a duration string, e.g. "15m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts a duration string or integer seconds; null leaves d unchanged.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := parseDurationString(s)
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
	v, err := durationFromSeconds(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML encodes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// UnmarshalYAML accepts a duration string or integer seconds; null leaves d unchanged.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: timeout must be a duration string or integer seconds", n.Line)
	}
	var (
		v   Duration
		err error
	)
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!int", "!!float":
		v, err = durationFromSeconds(n.Value)
	default:
		v, err = parseDurationString(n.Value)
	}
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

var errDurationSyntax = errors.New(`must be a duration string like "15m" or "1h30m", or integer seconds`)

func parseDurationString(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid timeout %q: %w", s, errDurationSyntax)
	}
	return Duration(v), nil
}

// durationFromSeconds parses a JSON/YAML number of whole seconds.
func durationFromSeconds(s string) (Duration, error) {
	n, ok := numFromString(s)
	if !ok || !n.isInt {
		return 0, fmt.Errorf("invalid timeout %s: %w", s, errDurationSyntax)
	}
	return secondsToDuration(n.i)
}

func secondsToDuration(sec int64) (Duration, error) {
	if sec > math.MaxInt64/int64(time.Second) || sec < math.MinInt64/int64(time.Second) {
		return 0, fmt.Errorf("timeout %s seconds is out of range", strconv.FormatInt(sec, 10))
	}
	return Duration(time.Duration(sec) * time.Second), nil
}
