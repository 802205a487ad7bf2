package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// newTable returns a tabwriter for aligned columns; Flush it when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// writeJSON prints v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return nil
}

// prettyJSON indents raw JSON by prefix; text that is not JSON is shown as
// it is.
func prettyJSON(raw []byte, prefix string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, prefix, "  "); err != nil {
		return prefix + string(raw)
	}
	return prefix + b.String()
}

// truncate cuts s to n runes with an ellipsis, on one line.
func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// ago is how long before now t was, compactly ("42s", "5m", "3h12m",
// "2d4h"); "-" for the zero time.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return compactDuration(now.Sub(t))
}

// compactDuration writes d with at most two units, rounded down.
func compactDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return "0s"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		return fmt.Sprintf("%dd%dh", days, h)
	}
}

// stamp formats t for people, in local time; "-" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05.000 MST")
}

// percent is used/usable as a percentage; 0 when usable is 0 (unlimited).
func percent(used, usable int64) float64 {
	if usable <= 0 {
		return 0
	}
	return float64(used) * 100 / float64(usable)
}

// bar draws used/usable as a text bar of width cells: '#' used, '.' free;
// over 100% it is full and ends in '!'.
func bar(used, usable int64, width int) string {
	if usable <= 0 || width < 1 {
		return strings.Repeat(" ", width)
	}
	n := int(used * int64(width) / usable)
	if used > 0 && n == 0 {
		n = 1
	}
	if n >= width {
		if used > usable {
			return strings.Repeat("#", width-1) + "!"
		}
		return strings.Repeat("#", width)
	}
	return strings.Repeat("#", n) + strings.Repeat(".", width-n)
}

// seconds formats a cool-down or ETA in seconds for people.
func seconds(s float64) string {
	if s <= 0 {
		return "none"
	}
	if s < 10 {
		return fmt.Sprintf("%.1fs", s)
	}
	return compactDuration(time.Duration(s * float64(time.Second)))
}
