package envconfig

import (
	"encoding/json"
	"github.com/llmqueue/llmqueue"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's "Migrating from llm-queue-task-manager" section must place
// every environment variable, public name and reported key of the Python
// package 0.1.3, and every Go name it gives must exist.

const migrationHeading = "## Migrating from llm-queue-task-manager"

// migrationSection returns the README's migration section, from its
// heading to the next "## " heading.
func migrationSection(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, "\n"+migrationHeading+"\n")
	require.GreaterOrEqual(t, i, 0, "README.md has no %q section", migrationHeading)
	s = s[i+1:]
	if j := strings.Index(s[len(migrationHeading):], "\n## "); j >= 0 {
		s = s[:len(migrationHeading)+j+1]
	}
	return s
}

// tableRows returns the cells of every table row in section.
func tableRows(section string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(section, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "| ---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	return rows
}

// rowFor returns the first row whose first cell names name in code, as
// `name` or `name(...)`.
func rowFor(rows [][]string, name string) []string {
	for _, r := range rows {
		if strings.Contains(r[0], "`"+name+"`") || strings.Contains(r[0], "`"+name+"(") {
			return r
		}
	}
	return nil
}

// hasToken reports whether s holds tok not as part of a longer identifier.
func hasToken(s, tok string) bool {
	return regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(tok) + `($|[^A-Za-z0-9_])`).MatchString(s)
}

func TestMigrationREADME_PlacesEveryPythonVariable(t *testing.T) {
	rows := tableRows(migrationSection(t))
	read := map[string]bool{}
	for _, v := range configVars(&Config{}) {
		read[v.name] = true
	}
	for _, name := range []string{
		"REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD", "REDIS_MAX_CONNECTIONS",
		"LLM_QUEUE_TOTAL_TPM", "LLM_QUEUE_API_ALLOCATION_PERCENT", "LLM_QUEUE_BATCH_LOW_COUNT",
		"LLM_QUEUE_BATCH_MEDIUM_COUNT", "LLM_QUEUE_BATCH_LONG_COUNT", "LLM_QUEUE_MAX_EMPTY_CYCLES",
		"LLM_QUEUE_QUOTA_WAIT_DURATION", "REDIS_SERVICE_HOST", "REDIS_SERVICE_PORT",
	} {
		t.Run(name, func(t *testing.T) {
			r := rowFor(rows, name)
			require.NotNil(t, r, "no row for %s", name)
			require.Len(t, r, 3, "columns: Python → llmqueue, default there → here, difference")
			assert.Contains(t, r[0], "`"+name+"` → `"+name+"`", "same name here")
			assert.True(t, read[name], "FromLookup does not read %s", name)
			assert.Contains(t, r[1], "→", "default there → here")
			assert.NotEmpty(t, r[2])
		})
	}
}

func TestMigrationREADME_MapsEveryPythonName(t *testing.T) {
	rows := tableRows(migrationSection(t))
	// Each Python name, and what its row must show.
	for _, tt := range []struct {
		python string
		want   []string
	}{
		{"QueuedRequest.create", []string{"llmqueue.NewRequest", "llmqueue.WithEstimatedTokens", "llmqueue.WithPriority"}},
		{"RedisQueueManager", []string{"llmqueue.NewQueueManager"}},
		{"add_request", []string{"QueueManager.Add"}},
		{"get_request_status", []string{"QueueManager.Status"}},
		{"cancel_request", []string{"QueueManager.Cancel"}},
		{"get_metrics", []string{"QueueManager.Metrics"}},
		{"clear_all_queues", []string{"QueueManager.ClearQueues"}},
		{"get_queue_info", []string{"QueueManager.QueueInfo"}},
		{"get_queue_lengths", []string{"Metrics.QueueLengths"}},
		{"get_current_token_usage", []string{"Metrics.TokenUsage"}},
		{"get_next_request", []string{"none"}},
		{"complete_request", []string{"none"}},
		{"requeue_request", []string{"none"}},
		{"check_token_budget", []string{"none"}},
		{"reserve_tokens", []string{"none"}},
		{"RedisBatchProcessor", []string{"llmqueue.NewBatchProcessor"}},
		{"start_processing", []string{"BatchProcessor.Start"}},
		{"stop_processing", []string{"BatchProcessor.Shutdown"}},
		{"get_processor_status", []string{"BatchProcessor.Status"}},
		{"pause_processing", []string{"QueueManager.PauseProcessing", "namespace-wide"}},
		{"resume_processing", []string{"QueueManager.ResumeProcessing"}},
		{"update_batch_config", []string{"QueueManager.SetCycle", "QueueManager.ClearCycle", "namespace-wide"}},
		{"BaseRequestProcessor", []string{"llmqueue.Processor"}},
		{"process_request", []string{"Processor.Process"}},
		{"validate_request", []string{"Validator", "Validate", "Config.Validator"}},
		{"get_required_fields", []string{"Validator"}},
		{"estimate_tokens", []string{"Estimator", "EstimateTokens", "Config.Estimator"}},
		{"handle_error", []string{"ErrorClassifier", "ClassifyError"}},
		{"preprocess_request", []string{"Preprocessor", "Preprocess"}},
		{"postprocess_result", []string{"Postprocessor", "Postprocess"}},
		{"health_check", []string{"HealthChecker", "HealthCheck"}},
		{"get_processor_info", []string{"ProcessorInfo"}},
		{"TokenEstimator", []string{"llmqueue.HeuristicEstimator", "tiktoken.Estimator"}},
		{"estimate_for_model", []string{"tiktoken.Estimator"}},
		{"TokenEstimator.estimate_processing_time", []string{"estimate.ProcessingTime"}},
		{"TokenEstimator.validate_token_estimate", []string{"estimate.Check"}},
		{"RedisConfig", []string{"envconfig.Load", "envconfig.Config.RedisOptions", "envconfig.Config.NewRedisClient"}},
		{"get_redis_client", []string{"envconfig.Load"}},
		{"configure_redis", []string{"envconfig.Load"}},
		{"test_redis_connection", []string{"Ping", "/v1/queue/health"}},
		{"format_time_ago", []string{"not needed"}},
		{"calculate_success_rate", []string{"not needed"}},
		{"TaskType", []string{"llmqueue.Priority"}},
		{"RequestStatus", []string{"llmqueue.Status", "llmqueue.RequestStatus"}},
	} {
		t.Run(tt.python, func(t *testing.T) {
			r := rowFor(rows, tt.python)
			require.NotNil(t, r, "no row for %s", tt.python)
			require.Len(t, r, 3, "columns: Python, llmqueue, difference")
			row := strings.Join(r, " | ")
			for _, w := range tt.want {
				assert.True(t, hasToken(row, w), "the row of %s lacks %q: %s", tt.python, w, row)
			}
		})
	}
}

// codeNames returns the Go names declared in dir's non-test files: each
// top-level name, "Type.Method" and "Type.Field" (interface methods too),
// and, in members, every method and field name alone. files maps each
// type to the file that declares it.
func codeNames(t *testing.T, dir string) (names, members map[string]bool, files map[string]string) {
	t.Helper()
	names, members, files = map[string]bool{}, map[string]bool{}, map[string]string{}
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names[d.Name.Name] = true
					continue
				}
				typ := d.Recv.List[0].Type
				if s, ok := typ.(*ast.StarExpr); ok {
					typ = s.X
				}
				if id, ok := typ.(*ast.Ident); ok {
					names[id.Name+"."+d.Name.Name] = true
					members[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							names[n.Name] = true
						}
					case *ast.TypeSpec:
						names[s.Name.Name] = true
						files[s.Name.Name] = filepath.Base(p)
						var fields *ast.FieldList
						switch tt := s.Type.(type) {
						case *ast.StructType:
							fields = tt.Fields
						case *ast.InterfaceType:
							fields = tt.Methods
						}
						if fields == nil {
							continue
						}
						for _, fl := range fields.List {
							for _, n := range fl.Names {
								names[s.Name.Name+"."+n.Name] = true
								members[n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	return names, members, files
}

// goIdent matches a dotted Go name in a code span.
var goIdent = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*`)

func TestMigrationREADME_GoNamesExist(t *testing.T) {
	section := migrationSection(t)
	root, rootMembers, files := codeNames(t, "..")
	httpapi, _, _ := codeNames(t, filepath.Join("..", "httpapi"))
	tiktoken, _, _ := codeNames(t, filepath.Join("..", "tiktoken"))
	envconfig, _, _ := codeNames(t, ".")
	estimate, _, _ := codeNames(t, filepath.Join("..", "estimate"))
	// Every name in a code span of the llmqueue column of the Code table
	// (the rows after "**Code.**", up to the next bold paragraph).
	start := strings.Index(section, "**Code.**")
	require.GreaterOrEqual(t, start, 0, "no **Code.** table")
	code := section[start+len("**Code.**"):]
	code = code[:strings.Index(code, "\n**")]
	checked := 0
	for _, r := range tableRows(code)[1:] { // [0] is the header
		require.Len(t, r, 3)
		for _, span := range regexp.MustCompile("`([^`]*)`").FindAllStringSubmatch(r[1], -1) {
			for _, id := range goIdent.FindAllString(span[1], -1) {
				parts := strings.Split(id, ".")
				pkg, inRoot := root, true
				switch parts[0] {
				case "llmqueue":
					parts = parts[1:]
				case "httpapi":
					pkg, inRoot, parts = httpapi, false, parts[1:]
				case "tiktoken":
					pkg, inRoot, parts = tiktoken, false, parts[1:]
				case "envconfig":
					pkg, inRoot, parts = envconfig, false, parts[1:]
				case "estimate":
					pkg, inRoot, parts = estimate, false, parts[1:]
				}
				name := strings.Join(parts, ".")
				first := parts[0][:1]
				if strings.ToUpper(first) != first || strings.ToUpper(name) == name {
					continue // a variable (rdb.Ping, cfg.X), or GET
				}
				checked++
				// A lone method or field name (`Validate`, `Low:`) is
				// declared on some type of the package.
				ok := pkg[name] || (inRoot && len(parts) == 1 && rootMembers[name])
				assert.True(t, ok, "%s (in %q) is not declared in the code", id, span[1])
			}
		}
	}
	assert.Greater(t, checked, 50, "the Code table's Go names were not found")

	// The types the section names as where the keys live.
	assert.Equal(t, "metrics.go", files["Metrics"])
	assert.Equal(t, "batch_status.go", files["WorkerStatus"])
	assert.Contains(t, section, "`metrics.go`")
	assert.Contains(t, section, "`batch_status.go`")
}

// jsonKeys returns the dotted JSON key paths of v's encoding, two levels
// deep.
func jsonKeys(t *testing.T, v any) map[string]bool {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	keys := map[string]bool{}
	for k, v := range m {
		keys[k] = true
		if sub, ok := v.(map[string]any); ok {
			for k2 := range sub {
				keys[k+"."+k2] = true
			}
		}
	}
	return keys
}

func TestMigrationREADME_PlacesEveryPythonKey(t *testing.T) {
	rows := tableRows(migrationSection(t))
	where := map[string]map[string]bool{
		"`Metrics`":      jsonKeys(t, llmqueue.Metrics{}),
		"`WorkerStatus`": jsonKeys(t, llmqueue.WorkerStatus{}),
	}
	metrics := []string{"total_in_queue", "success_rate_percent",
		"token_usage.current_usage", "token_usage.api_allocation", "token_usage.available",
		"token_usage.utilization_percent", "token_usage.safety_buffer",
		"low_completed", "medium_completed", "long_completed", "low_failed", "medium_failed", "long_failed",
		"low_queued", "medium_queued", "long_queued",
		"total_queued", "total_completed", "total_failed", "total_processing", "queue_lengths",
		"system_health.status", "system_health.score", "system_health.token_utilization",
		"system_health.queue_backlog", "system_health.success_rate"}
	status := []string{"is_processing", "uptime_seconds", "current_cycle_position", "current_task_type",
		"cycle_sequence", "consecutive_empty_cycles", "total_requests_processed", "last_processed_time",
		"processing_rate_per_minute", "batch_config", "quota_status", "consecutive_errors", "health_status",
		"requests_processed_this_cycle", "consecutive_quota_failures"}
	tests := map[string][]string{"`Metrics`": metrics, "`WorkerStatus`": status}
	for place, keys := range tests {
		for _, key := range keys {
			t.Run(key, func(t *testing.T) {
				r := rowFor(rows, key)
				require.NotNil(t, r, "no row for %s", key)
				require.Len(t, r, 3, "columns: Python key, here, difference")
				assert.Equal(t, place, r[1], "where %s lives", key)
				assert.True(t, where[place][key], "%s has no JSON key %q", place, key)
				assert.NotEmpty(t, r[2])
			})
		}
	}
}

func TestMigrationREADME_HTTPPathsAndTheExample(t *testing.T) {
	section := migrationSection(t)
	// httpapi's routes are one table of {method, path, handler}.
	src, err := os.ReadFile(filepath.Join("..", "httpapi", "routes.go"))
	require.NoError(t, err)
	methodConst := map[string]string{"GET": "http.MethodGet", "POST": "http.MethodPost"}
	for _, route := range []string{"GET /v1/queue/health", "GET /v1/queue/metrics", "GET /v1/queue/metrics.json",
		"POST /v1/queue/requests", "GET /v1/queue/requests/{id}", "POST /v1/queue/clear", "GET /v1/queue/info",
		"POST /v1/queue/processing/pause", "POST /v1/queue/processing/resume"} {
		assert.Contains(t, section, "`"+route+"`", "the section names %s", route)
		method, path, _ := strings.Cut(route, " ")
		assert.Contains(t, string(src), methodConst[method]+`, "`+path+`"`, "httpapi serves %s", route)
	}
	assert.Contains(t, section, "go run ./examples/migrate -env testdata/seed.env")
	for _, f := range []string{"examples/migrate/main.go", "testdata/seed.env", "examples/migrate/testdata/seed.env"} {
		_, err := os.Stat(filepath.Join("..", f))
		assert.NoError(t, err, "the section's example needs %s", f)
	}
}
