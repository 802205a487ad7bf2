package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// envFile is a parsed .env file: its variables in the order they first
// appear, each with its last value, as a shell that sources it ends up.
type envFile struct {
	names  []string
	values map[string]string
}

// lookup answers like os.LookupEnv, from the file alone.
func (f envFile) lookup(name string) (string, bool) {
	v, ok := f.values[name]
	return v, ok
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseEnvFile reads KEY=VALUE lines the way python-dotenv and shells
// agree on: blank lines and lines starting with '#' are skipped; a line
// may start with "export "; a value may be in double quotes (with \n, \t,
// \r, \" and \\ escapes) or single quotes (as written), or bare, where a
// '#' after a blank starts a comment and surrounding blanks are dropped.
// A value spans one line.
func parseEnvFile(r io.Reader) (envFile, error) {
	f := envFile{values: map[string]string{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			line = strings.TrimSpace(rest)
		}
		name, raw, ok := strings.Cut(line, "=")
		if !ok {
			return f, fmt.Errorf("line %d: want NAME=VALUE, got %q", n, line)
		}
		name = strings.TrimSpace(name)
		if !envName.MatchString(name) {
			return f, fmt.Errorf("line %d: %q is not a variable name", n, name)
		}
		value, err := envValue(raw)
		if err != nil {
			return f, fmt.Errorf("line %d: %s: %w", n, name, err)
		}
		if _, seen := f.values[name]; !seen {
			f.names = append(f.names, name)
		}
		f.values[name] = value
	}
	return f, sc.Err()
}

// envValue decodes one value as written after the '='.
func envValue(raw string) (string, error) {
	trimmed := strings.TrimSpace(raw)
	if trimmed == "" || (trimmed[0] == '#' && (raw[0] == ' ' || raw[0] == '\t')) {
		return "", nil // "NAME=  # comment": empty, as in a shell
	}
	raw = trimmed
	switch q := raw[0]; q {
	case '"', '\'':
		var b strings.Builder
		for i := 1; i < len(raw); i++ {
			c := raw[i]
			switch {
			case c == q:
				if rest := strings.TrimSpace(raw[i+1:]); rest != "" && rest[0] != '#' {
					return "", fmt.Errorf("text after the closing quote: %q", rest)
				}
				return b.String(), nil
			case c == '\\' && q == '"' && i+1 < len(raw):
				i++
				switch e := raw[i]; e {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				case '"', '\\':
					b.WriteByte(e)
				default:
					b.WriteByte('\\')
					b.WriteByte(e)
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("no closing %c", q)
	}
	for i := 1; i < len(raw); i++ {
		if raw[i] == '#' && (raw[i-1] == ' ' || raw[i-1] == '\t') {
			raw = raw[:i]
			break
		}
	}
	return strings.TrimSpace(raw), nil
}
