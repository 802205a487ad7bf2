package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // the probes of absent Redis servers dial and fail on purpose
	os.Exit(m.Run())
}

func runFor(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, args, &out)
	return out.String(), err
}

// rowOf returns the table line of a variable, its blanks squeezed.
func rowOf(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return regexp.MustCompile(`\s{2,}`).ReplaceAllString(strings.TrimSpace(l), " | ")
		}
	}
	return ""
}

func TestRun_SeedFileShowsBothMeaningsAndRunsTheBatch(t *testing.T) {
	out, err := runFor(t, "-env", "testdata/seed.env")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	rows := map[string]string{
		"LLM_QUEUE_TOTAL_TPM":              "LLM_QUEUE_TOTAL_TPM | 1000000 | 1000000 per calendar minute | 1000000 per sliding 1m0s",
		"LLM_QUEUE_API_ALLOCATION_PERCENT": "LLM_QUEUE_API_ALLOCATION_PERCENT | 40 | 40% | 40%",
		"LLM_QUEUE_MAX_EMPTY_CYCLES":       "LLM_QUEUE_MAX_EMPTY_CYCLES | 5 | 5 empty cycles, then a 5s sleep | 5 empty lease calls, then Status says idle",
		"LLM_QUEUE_QUOTA_WAIT_DURATION":    "LLM_QUEUE_QUOTA_WAIT_DURATION | 65 | 65s fixed sleep | 1m5s cap on one computed wait",
		"REDIS_HOST":                       "REDIS_HOST | localhost | localhost | localhost",
		"REDIS_PASSWORD":                   "REDIS_PASSWORD | (unset) | (none) | (none)",
		"REDIS_MAX_CONNECTIONS":            "REDIS_MAX_CONNECTIONS | 20 | 20 | 20",
	}
	for name, want := range rows {
		if got := rowOf(out, name); got != want {
			t.Errorf("row of %s:\n got %q\nwant %q", name, got, want)
		}
	}
	for _, want := range []string{
		"testdata/seed.env: 11 variables",
		"migration notes (4)",
		"[INFO] LLM_QUEUE_QUOTA_WAIT_DURATION=65",
		"budget, llm-queue-task-manager: 360000 tokens per calendar minute",
		"budget, llmqueue:               360000 tokens, 0 requests per 1m0s",
		"start order: LLLMMGLLLMMG",
		"metrics: 12 completed, 0 failed",
		"health_status healthy",
		"all requests completed; shut down cleanly",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRun_KubernetesFileAndItsFallback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k8s.env")
	// What Kubernetes sets for a Service named redis; nothing listens on
	// port 1, so the batch runs on the embedded Redis.
	if err := os.WriteFile(path, []byte("export REDIS_SERVICE_HOST=127.0.0.1\nREDIS_SERVICE_PORT=1\n"+
		"REDIS_PORT=tcp://127.0.0.1:1\nLLM_QUEUE_MAX_EMPTY_CYCLES='5'\nAPP_NAME=\"chat # bot\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runFor(t, "-env", path)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	for name, want := range map[string]string{
		"REDIS_PORT":          "REDIS_PORT | tcp://127.0.0.1:1 | ValueError: fails at start-up | 1",
		"REDIS_HOST":          "REDIS_HOST | (unset) | 127.0.0.1 | 127.0.0.1",
		"REDIS_SERVICE_PORT":  "REDIS_SERVICE_PORT | 1 | (not used) | (not used)",
		"LLM_QUEUE_TOTAL_TPM": "LLM_QUEUE_TOTAL_TPM | (unset) | 1000000 per calendar minute | 0: no token limit",
		"APP_NAME":            "APP_NAME | chat # bot | (not read) | (not read)",
	} {
		if got := rowOf(out, name); got != want {
			t.Errorf("row of %s:\n got %q\nwant %q", name, got, want)
		}
	}
	for _, want := range []string{
		"[WARN] LLM_QUEUE_TOTAL_TPM unset",
		"[WARN] LLM_QUEUE_API_ALLOCATION_PERCENT unset",
		"no Redis answered at 127.0.0.1:1",
		"using an embedded in-process Redis (miniredis)",
		"metrics: 12 completed, 0 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRun_RefusedFileNamesTheVariable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.env")
	if err := os.WriteFile(path, []byte("LLM_QUEUE_TOTAL_TPM=lots\nLLM_QUEUE_BATCH_LONG_COUNT=0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runFor(t, "-env", path)
	if err == nil {
		t.Fatalf("a bad file ran:\n%s", out)
	}
	for _, want := range []string{`LLM_QUEUE_TOTAL_TPM="lots": not an integer`, "LLM_QUEUE_BATCH_LONG_COUNT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if got := rowOf(out, "LLM_QUEUE_TOTAL_TPM"); !strings.Contains(got, "ValueError") {
		t.Errorf("the table still shows what Python made of it, got %q", got)
	}
	if strings.Contains(out, "queued") {
		t.Errorf("nothing runs on a refused file:\n%s", out)
	}
	if _, err := runFor(t, "-env", filepath.Join(t.TempDir(), "missing.env")); err == nil {
		t.Error("a missing file is an error")
	}
}

// The README's command runs from the repository's root, the test from
// here: both find the same file.
func TestSeedFile_IsTheSameAtTheRoot(t *testing.T) {
	here, err := os.ReadFile("testdata/seed.env")
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.ReadFile("../../testdata/seed.env")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(here, root) {
		t.Error("testdata/seed.env and ../../testdata/seed.env differ")
	}
}

func TestParseEnvFile(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		order    []string
		err      string
	}{
		{"python README line", "REDIS_HOST=localhost                     # Redis host\n",
			map[string]string{"REDIS_HOST": "localhost"}, []string{"REDIS_HOST"}, ""},
		{"comments and blanks", "# a comment\n\n  # indented\nA=1\n",
			map[string]string{"A": "1"}, []string{"A"}, ""},
		{"export prefix", "export A=1\nexport\tB=2\n", map[string]string{"A": "1", "B": "2"}, []string{"A", "B"}, ""},
		{"a variable named export_x", "export_x=1\n", map[string]string{"export_x": "1"}, []string{"export_x"}, ""},
		{"double quotes keep # and blanks", `A="a # b "` + "\n", map[string]string{"A": "a # b "}, []string{"A"}, ""},
		{"double-quote escapes", `A="x\"y\\z\n"  # c` + "\n", map[string]string{"A": "x\"y\\z\n"}, []string{"A"}, ""},
		{"single quotes are literal", `A='x\ny # z'` + "\n", map[string]string{"A": `x\ny # z`}, []string{"A"}, ""},
		{"# without a blank before is the value's", "A=a#b\nB=#c\n", map[string]string{"A": "a#b", "B": "#c"}, []string{"A", "B"}, ""},
		{"empty value", "A=\nB=  # nothing\n", map[string]string{"A": "", "B": ""}, []string{"A", "B"}, ""},
		{"blanks around the =", "A = 1 \n", map[string]string{"A": "1"}, []string{"A"}, ""},
		{"= in the value", "REDIS_URL=redis://h:1/0?x=y\n", map[string]string{"REDIS_URL": "redis://h:1/0?x=y"}, []string{"REDIS_URL"}, ""},
		{"last value wins, first place kept", "A=1\nB=2\nA=3\n", map[string]string{"A": "3", "B": "2"}, []string{"A", "B"}, ""},
		{"byte order mark", "\uFEFFA=1\n", map[string]string{"A": "1"}, []string{"A"}, ""},
		{"CRLF", "A=1\r\nB=2\r\n", map[string]string{"A": "1", "B": "2"}, []string{"A", "B"}, ""},
		{"no =", "A=1\nJUSTANAME\n", nil, nil, "line 2: want NAME=VALUE"},
		{"bad name", "1A=x\n", nil, nil, `line 1: "1A" is not a variable name`},
		{"unclosed quote", "A=\"open\n", nil, nil, "line 1: A: no closing \""},
		{"text after the quote", "A='x' y\n", nil, nil, "text after the closing quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseEnvFile(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.values) != len(tt.want) || strings.Join(f.names, ",") != strings.Join(tt.order, ",") {
				t.Fatalf("got %q in order %q, want %q in order %q", f.values, f.names, tt.want, tt.order)
			}
			for k, v := range tt.want {
				if got, ok := f.lookup(k); !ok || got != v {
					t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
				}
			}
		})
	}
}
