package envconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/llmqueue/llmqueue"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// env is a lookup over a map, standing in for os.LookupEnv.
type env map[string]string

func (e env) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

func TestConfigFromLookup_EmptyEnvironmentGivesDefaults(t *testing.T) {
	c, err := FromLookup(env{}.lookup)
	require.NoError(t, err)
	assert.Equal(t, Default(), c)
	assert.Equal(t, "localhost", c.Redis.Host)
	assert.Equal(t, 6379, c.Redis.Port)
	assert.Equal(t, 100.0, c.Manager.Budget.APIAllocationPercent)
	assert.Equal(t, 10.0, c.Manager.Budget.SafetyBufferPercent)
	assert.Equal(t, [3]int{3, 2, 1}, [3]int{c.Worker.Cycle.Low, c.Worker.Cycle.Medium, c.Worker.Cycle.Long})
	assert.Equal(t, 3, c.Worker.MaxEmptyCycles)
	assert.Equal(t, 60*time.Second, c.Worker.MaxBudgetWait)
	assert.Equal(t, "default", c.Manager.Namespace)
	assert.Equal(t, 10, c.Worker.Concurrency)
	assert.Equal(t, time.Minute, c.Manager.Budget.Window)
	assert.Equal(t, 24*time.Hour, c.Manager.Retention)
	assert.Equal(t, 5*time.Second, c.Manager.OpTimeout)
	assert.NoError(t, c.Validate())

	c, err = FromLookup(nil)
	require.NoError(t, err)
	assert.Equal(t, Default(), c)
}

func TestConfigFromLookup_EachVariableAcceptsGoodValues(t *testing.T) {
	tests := []struct {
		name, value string
		want        func(*Config)
	}{
		{"REDIS_URL", "redis://u:p@h:1/2", func(c *Config) { c.Redis.URL = "redis://u:p@h:1/2" }},
		{"REDIS_URL", "rediss://h", func(c *Config) { c.Redis.URL = "rediss://h" }},
		{"REDIS_HOST", "redis.internal", func(c *Config) { c.Redis.Host = "redis.internal" }},
		{"REDIS_HOST", "::1", func(c *Config) { c.Redis.Host = "::1" }},
		{"REDIS_PORT", "6380", func(c *Config) { c.Redis.Port = 6380 }},
		{"REDIS_PORT", " 1 ", func(c *Config) { c.Redis.Port = 1 }},
		{"REDIS_PORT", "65535", func(c *Config) { c.Redis.Port = 65535 }},
		{"REDIS_DB", "0", func(c *Config) { c.Redis.DB = 0 }},
		{"REDIS_DB", "15", func(c *Config) { c.Redis.DB = 15 }},
		{"REDIS_PASSWORD", "s3cret", func(c *Config) { c.Redis.Password = "s3cret" }},
		{"REDIS_MAX_CONNECTIONS", "0", func(c *Config) { c.Redis.MaxConnections = 0 }},
		{"REDIS_MAX_CONNECTIONS", "50", func(c *Config) { c.Redis.MaxConnections = 50 }},
		{"LLM_QUEUE_TOTAL_TPM", "90000", func(c *Config) { c.Manager.Budget.TPM = 90_000 }},
		{"LLM_QUEUE_TOTAL_TPM", "0", func(c *Config) { c.Manager.Budget.TPM = 0 }},
		{"LLM_QUEUE_TOTAL_TPM", "9223372036854775807", func(c *Config) { c.Manager.Budget.TPM = 1<<63 - 1 }},
		{"LLM_QUEUE_TOTAL_RPM", "500", func(c *Config) { c.Manager.Budget.RPM = 500 }},
		{"LLM_QUEUE_TOTAL_ITPM", "40000", func(c *Config) { c.Manager.Budget.ITPM = 40000 }},
		{"LLM_QUEUE_TOTAL_OTPM", "8000", func(c *Config) { c.Manager.Budget.OTPM = 8000 }},
		{"LLM_QUEUE_TOTAL_TPD", "9000000", func(c *Config) { c.Manager.Budget.TPD = 9000000 }},
		{"LLM_QUEUE_TOTAL_RPD", "10000", func(c *Config) { c.Manager.Budget.RPD = 10000 }},
		{"LLM_QUEUE_API_ALLOCATION_PERCENT", "80", func(c *Config) { c.Manager.Budget.APIAllocationPercent = 80 }},
		{"LLM_QUEUE_API_ALLOCATION_PERCENT", "12.5", func(c *Config) { c.Manager.Budget.APIAllocationPercent = 12.5 }},
		{"LLM_QUEUE_API_ALLOCATION_PERCENT", "100", func(c *Config) { c.Manager.Budget.APIAllocationPercent = 100 }},
		{"LLM_QUEUE_SAFETY_BUFFER_PERCENT", "0", func(c *Config) { c.Manager.Budget.SafetyBufferPercent = -1 }},
		{"LLM_QUEUE_SAFETY_BUFFER_PERCENT", "25", func(c *Config) { c.Manager.Budget.SafetyBufferPercent = 25 }},
		{"LLM_QUEUE_SAFETY_BUFFER_PERCENT", "99.9", func(c *Config) { c.Manager.Budget.SafetyBufferPercent = 99.9 }},
		{"LLM_QUEUE_WINDOW", "2s", func(c *Config) { c.Manager.Budget.Window = 2 * time.Second }},
		{"LLM_QUEUE_WINDOW", "60", func(c *Config) { c.Manager.Budget.Window = time.Minute }},
		{"LLM_QUEUE_BATCH_LOW_COUNT", "5", func(c *Config) { c.Worker.Cycle.Low = 5 }},
		{"LLM_QUEUE_BATCH_LOW_COUNT", "1000", func(c *Config) { c.Worker.Cycle.Low = 1000 }},
		{"LLM_QUEUE_BATCH_MEDIUM_COUNT", "1", func(c *Config) { c.Worker.Cycle.Medium = 1 }},
		{"LLM_QUEUE_BATCH_LONG_COUNT", "4", func(c *Config) { c.Worker.Cycle.Long = 4 }},
		{"LLM_QUEUE_MAX_EMPTY_CYCLES", "0", func(c *Config) { c.Worker.MaxEmptyCycles = 0 }},
		{"LLM_QUEUE_MAX_EMPTY_CYCLES", "7", func(c *Config) { c.Worker.MaxEmptyCycles = 7 }},
		{"LLM_QUEUE_QUOTA_WAIT_DURATION", "90s", func(c *Config) { c.Worker.MaxBudgetWait = 90 * time.Second }},
		{"LLM_QUEUE_QUOTA_WAIT_DURATION", "60", func(c *Config) { c.Worker.MaxBudgetWait = time.Minute }},
		{"LLM_QUEUE_QUOTA_WAIT_DURATION", "1m30s", func(c *Config) { c.Worker.MaxBudgetWait = 90 * time.Second }},
		{"LLM_QUEUE_QUOTA_WAIT_DURATION", "250ms", func(c *Config) { c.Worker.MaxBudgetWait = 250 * time.Millisecond }},
		{"LLM_QUEUE_NAMESPACE", "tenant-a:prod.v1_x", func(c *Config) { c.Manager.Namespace = "tenant-a:prod.v1_x" }},
		{"LLM_QUEUE_CONCURRENCY", "1", func(c *Config) { c.Worker.Concurrency = 1 }},
		{"LLM_QUEUE_CONCURRENCY", "64", func(c *Config) { c.Worker.Concurrency = 64 }},
		{"LLM_QUEUE_RETENTION", "1h", func(c *Config) { c.Manager.Retention = time.Hour }},
		{"LLM_QUEUE_RETENTION", "86400", func(c *Config) { c.Manager.Retention = 24 * time.Hour }},
		{"LLM_QUEUE_OP_TIMEOUT", "2s", func(c *Config) { c.Manager.OpTimeout = 2 * time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			got, err := FromLookup(env{tt.name: tt.value}.lookup)
			require.NoError(t, err)
			want := Default()
			tt.want(&want)
			assert.Equal(t, want, got)
		})
	}
}

func TestConfigFromLookup_EachVariableRejectsBadValuesByName(t *testing.T) {
	tests := []struct {
		name, value, reason string
	}{
		{"REDIS_URL", "http://localhost:6379", "invalid URL scheme"},
		{"REDIS_URL", "localhost:6379", "invalid URL scheme"},
		{"REDIS_URL", "redis://localhost:6379/abc", "invalid database number"},
		{"REDIS_URL", "redis://localhost:notaport", "invalid port"},
		{"REDIS_URL", "redis://localhost/0?bogus_option=1", "unexpected option"},
		{"REDIS_PORT", "abc", "not an integer"},
		{"REDIS_PORT", "0", "must be 1-65535"},
		{"REDIS_PORT", "65536", "must be 1-65535"},
		{"REDIS_PORT", "6379.5", "not an integer"},
		{"REDIS_DB", "-1", "must be >= 0"},
		{"REDIS_DB", "one", "not an integer"},
		{"REDIS_MAX_CONNECTIONS", "-3", "must be 0-"},
		{"REDIS_MAX_CONNECTIONS", "4294967296", "must be 0-"},
		{"REDIS_MAX_CONNECTIONS", "lots", "not an integer"},
		{"LLM_QUEUE_TOTAL_TPM", "abc", "not an integer"},
		{"LLM_QUEUE_TOTAL_TPM", "-1", "must be >= 0"},
		{"LLM_QUEUE_TOTAL_TPM", "1e6", "not an integer"},
		{"LLM_QUEUE_TOTAL_TPM", "9223372036854775808", "out of range"},
		{"LLM_QUEUE_TOTAL_RPM", "-5", "must be >= 0"},
		{"LLM_QUEUE_TOTAL_ITPM", "-1", "must be >= 0"},
		{"LLM_QUEUE_TOTAL_OTPM", "x", "not an integer"},
		{"LLM_QUEUE_TOTAL_TPD", "-2", "must be >= 0"},
		{"LLM_QUEUE_TOTAL_RPD", "1.5", "not an integer"},
		{"LLM_QUEUE_TOTAL_RPM", "5 rpm", "not an integer"},
		{"LLM_QUEUE_API_ALLOCATION_PERCENT", "0", "above 0 and at most 100"},
		{"LLM_QUEUE_API_ALLOCATION_PERCENT", "101", "above 0 and at most 100"},
		{"LLM_QUEUE_API_ALLOCATION_PERCENT", "-1", "above 0 and at most 100"},
		{"LLM_QUEUE_API_ALLOCATION_PERCENT", "NaN", "not a number"},
		{"LLM_QUEUE_API_ALLOCATION_PERCENT", "50%", "not a number"},
		{"LLM_QUEUE_SAFETY_BUFFER_PERCENT", "100", "at least 0 and below 100"},
		{"LLM_QUEUE_SAFETY_BUFFER_PERCENT", "-0.5", "at least 0 and below 100"},
		{"LLM_QUEUE_SAFETY_BUFFER_PERCENT", "+Inf", "not a number"},
		{"LLM_QUEUE_WINDOW", "0", "at least 1ms"},
		{"LLM_QUEUE_WINDOW", "-1m", "at least 1ms"},
		{"LLM_QUEUE_WINDOW", "soon", "not a duration"},
		{"LLM_QUEUE_BATCH_LOW_COUNT", "0", "must be 1-1000"},
		{"LLM_QUEUE_BATCH_LOW_COUNT", "1001", "must be 1-1000"},
		{"LLM_QUEUE_BATCH_LOW_COUNT", "three", "not an integer"},
		{"LLM_QUEUE_BATCH_MEDIUM_COUNT", "-2", "must be 1-1000"},
		{"LLM_QUEUE_BATCH_LONG_COUNT", "0", "must be 1-1000"},
		{"LLM_QUEUE_MAX_EMPTY_CYCLES", "-1", "must be >= 0"},
		{"LLM_QUEUE_MAX_EMPTY_CYCLES", "x", "not an integer"},
		{"LLM_QUEUE_QUOTA_WAIT_DURATION", "1.5", "not a duration"},
		{"LLM_QUEUE_QUOTA_WAIT_DURATION", "0", "at least 1ms"},
		{"LLM_QUEUE_QUOTA_WAIT_DURATION", "-10", "at least 1ms"},
		{"LLM_QUEUE_QUOTA_WAIT_DURATION", "10 seconds", "not a duration"},
		{"LLM_QUEUE_QUOTA_WAIT_DURATION", "9223372037", "out of range"},
		{"LLM_QUEUE_QUOTA_WAIT_DURATION", "100000000h", "not a duration"},
		{"LLM_QUEUE_NAMESPACE", "{tenant}", "want 1-64"},
		{"LLM_QUEUE_NAMESPACE", "has space", "want 1-64"},
		{"LLM_QUEUE_NAMESPACE", strings.Repeat("n", 65), "want 1-64"},
		{"LLM_QUEUE_CONCURRENCY", "0", "must be >= 1"},
		{"LLM_QUEUE_CONCURRENCY", "ten", "not an integer"},
		{"LLM_QUEUE_RETENTION", "0s", "at least 1ms"},
		{"LLM_QUEUE_RETENTION", "1d", "not a duration"},
		{"LLM_QUEUE_OP_TIMEOUT", "500us", "at least 1ms"},
		{"LLM_QUEUE_OP_TIMEOUT", "fast", "not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := FromLookup(env{tt.name: tt.value}.lookup)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "llmqueue: "+tt.name+"=")
			assert.Contains(t, err.Error(), tt.reason)
			var ee *EnvError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, tt.name, ee.Name)
			assert.Len(t, strings.Split(err.Error(), "\n"), 1, "one bad variable, one error")
		})
	}
}

func TestConfigFromLookup_ErrorQuotesTheValue(t *testing.T) {
	_, err := FromLookup(env{"LLM_QUEUE_TOTAL_TPM": "abc"}.lookup)
	require.EqualError(t, err, `llmqueue: LLM_QUEUE_TOTAL_TPM="abc": not an integer`)
}

func TestConfigFromLookup_ReportsEveryBadVariable(t *testing.T) {
	bad := env{
		"REDIS_PORT":                      "x",
		"LLM_QUEUE_TOTAL_TPM":             "abc",
		"LLM_QUEUE_SAFETY_BUFFER_PERCENT": "150",
		"LLM_QUEUE_CONCURRENCY":           "0",
		"LLM_QUEUE_QUOTA_WAIT_DURATION":   "later",
		"LLM_QUEUE_NAMESPACE":             "a{b}",
		"LLM_QUEUE_TOTAL_RPM":             "60", // good, must not be reported
	}
	c, err := FromLookup(bad.lookup)
	require.Error(t, err)
	for name := range bad {
		if name == "LLM_QUEUE_TOTAL_RPM" {
			assert.NotContains(t, err.Error(), name)
			continue
		}
		assert.Contains(t, err.Error(), name+"=", "error names %s", name)
	}
	assert.Len(t, strings.Split(err.Error(), "\n"), len(bad)-1)
	assert.EqualValues(t, 60, c.Manager.Budget.RPM, "good variables are still read")
}

func TestConfigFromLookup_BlankValueMeansUnset(t *testing.T) {
	c, err := FromLookup(env{"LLM_QUEUE_TOTAL_TPM": "", "REDIS_PORT": "  ", "LLM_QUEUE_NAMESPACE": "\t"}.lookup)
	require.NoError(t, err)
	assert.Equal(t, Default(), c)
}

func TestConfig_NeverPrintsPasswords(t *testing.T) {
	const pw, urlPW = "hunter2-env-secret", "url-secret-42"
	c, err := FromLookup(env{
		"REDIS_URL":      "rediss://alice:" + urlPW + "@redis.example:6380/2",
		"REDIS_PASSWORD": pw,
	}.lookup)
	require.NoError(t, err)

	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "cfg", c)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "cfg", c)
	outputs := map[string]string{
		"String": c.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c),
		"%#v": fmt.Sprintf("%#v", c), "%s": fmt.Sprintf("%s", c), "&%v": fmt.Sprintf("%v", &c),
		"slog text": text.String(), "slog json": js.String(),
	}
	for name, out := range outputs {
		assert.NotContains(t, out, pw, name)
		assert.NotContains(t, out, urlPW, name)
		assert.Contains(t, out, "xxxxx", name)
		assert.Contains(t, out, "redis.example:6380", name, "%s still shows where Redis is", name)
	}
	assert.True(t, strings.HasPrefix(outputs["%#v"], "envconfig.Config{"), outputs["%#v"])

	// The password must survive redaction in the Config itself.
	o, err := c.RedisOptions()
	require.NoError(t, err)
	assert.Equal(t, urlPW, o.Password)
	assert.Equal(t, pw, c.Redis.Password)
}

func TestConfig_ErrorsNeverShowPasswords(t *testing.T) {
	tests := []struct{ url, secret string }{
		{"redis://user:topsecret@host:badport/0", "topsecret"},
		{"redis://:topsecret@host/notadb", "topsecret"},
		{"redis://user:top%zzsecret@host/0", "top%zzsecret"},
		{"redis://user:top%zzsecret@host/0", "%zz"},
		{"http://user:topsecret@host/0", "topsecret"},
		{"user:topsecret@host:6379", "topsecret"},
		{"redis://topsecret@host:bad", "topsecret"},
		{"redis://u:pa ss@host/0", "pa ss"},
		{"redis://u:topsecret@host/0?dial_timeout=soon", "topsecret"},
		{"redis://u:p@ss:w0rd!@host:x/0", "ss:w0rd!"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := FromLookup(env{"REDIS_URL": tt.url, "REDIS_PASSWORD": "envpw-secret", "REDIS_PORT": "bad"}.lookup)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), tt.secret)
			assert.NotContains(t, err.Error(), "envpw-secret")
			assert.Contains(t, err.Error(), "REDIS_URL=")
			assert.Contains(t, err.Error(), "REDIS_PORT=")

			_, err = Config{Redis: Redis{URL: tt.url, Host: "h", Port: 1}}.RedisOptions()
			require.Error(t, err)
			assert.NotContains(t, err.Error(), tt.secret)
		})
	}
}

// TestConfig_URLErrorsShowNoPieceOfThePassword covers the leaks of issue
// 9 item 12: a ?password= query option (unexpected to go-redis), any bad
// option beside it, and a password with an unencoded '#', '/' or '?',
// which ends the user info early so the parser reports the part before it
// as a port or a path. No error and no String may show the password or
// any three-character piece of it.
func TestConfig_URLErrorsShowNoPieceOfThePassword(t *testing.T) {
	const pw = "QZJKVYQ" // marker letters: see markerLetters
	tests := []struct{ url, password, reason string }{
		{"redis://127.0.0.1:6379/0?password=" + pw, pw, "unexpected option: password"},
		{"redis://127.0.0.1:6379/0?password=" + pw + "&bogus=1", pw, "unexpected option"},
		{"redis://127.0.0.1:6379/0?bogus=1&password=" + pw, pw, "unexpected option"},
		{"redis://127.0.0.1:6379/0?dial_timeout=soon&password=" + pw, pw, "invalid dial_timeout duration"},
		{"redis://127.0.0.1:6379/0?password=" + pw + "&dial_timeout=soon", pw, "invalid"},
		{"redis://127.0.0.1:6379/0?Password=" + pw, pw, "unexpected option"},
		{"redis://u:pw@127.0.0.1:6379/0?password=" + pw, pw, "unexpected option"},
		{"redis://u:QZJ#KVY@127.0.0.1:6379/0", "QZJ#KVY", "invalid port"},
		{"redis://u:QZJ/KVY@127.0.0.1:6379/0", "QZJ/KVY", "invalid port"},
		{"redis://u:QZJ?KVY@127.0.0.1:6379/0", "QZJ?KVY", "invalid port"},
		{"redis://:QZJ#KVY@127.0.0.1/0", "QZJ#KVY", "invalid port"},
		{"redis://QZJ/KVY@127.0.0.1/0", "QZJ/KVY", "invalid URL path"},
		{"redis://QZJ/KVY@127.0.0.1", "QZJ/KVY", "invalid database number"},
		{"redis://QZJ?KVY=1@127.0.0.1/0", "QZJ?KVY=1", "unexpected option"},
		{"redis://u:QZJ%KVY@127.0.0.1/0", "QZJ%KVY", "invalid URL escape"},
		{"u:QZJ://KVY@127.0.0.1:6379", "QZJ://KVY", "invalid URL scheme"},
		{"redis://:" + pw, pw, "invalid port"}, // the password without its '@' and host
		{"redis://:QZJ/KVY", "QZJ/KVY", "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			outs := secretOutputs(env{"REDIS_URL": tt.url})
			require.Contains(t, outs, "FromLookup error", "the URL must be refused")
			assert.Contains(t, outs["FromLookup error"], "REDIS_URL=")
			assert.Contains(t, outs["FromLookup error"], tt.reason)
			for name, out := range outs {
				assert.Empty(t, leakedPiece(out, tt.password), "%s shows a piece of the password:\n%s", name, out)
			}
		})
	}

	// The issue's own report, verbatim: the password printed in full, and
	// the part before an unencoded '#'.
	for url, secret := range map[string]string{
		"redis://127.0.0.1:6379/0?password=SECRET": "SECRET",
		"redis://user:Sec#ret@127.0.0.1:6379/0":    "Sec",
	} {
		_, err := FromLookup(env{"REDIS_URL": url}.lookup)
		require.Error(t, err, url)
		assert.NotContains(t, err.Error(), secret, url)
	}
}

// TestConfig_RedisPasswordIsNeverPrinted covers REDIS_PASSWORD's own
// path: set beside a bad URL, a bad port and in a URL's query, it shows
// in no error and no String.
func TestConfig_RedisPasswordIsNeverPrinted(t *testing.T) {
	const pw = "QZJKVY-env"
	for _, e := range []env{
		{"REDIS_PASSWORD": pw},
		{"REDIS_PASSWORD": pw, "REDIS_URL": "redis://h/0?bogus=1"},
		{"REDIS_PASSWORD": pw, "REDIS_URL": "redis://h:" + pw},
		{"REDIS_PASSWORD": pw, "REDIS_URL": "redis://h/0?password=" + pw},
		{"REDIS_PASSWORD": " " + pw + " ", "REDIS_PORT": "bad"},
	} {
		for name, out := range secretOutputs(e) {
			assert.Empty(t, leakedPiece(out, pw), "%v: %s:\n%s", e, name, out)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "",
		"redis://localhost:6379/0":          "redis://localhost:6379/0",
		"redis://user:pw@host:1/2":          "redis://user:xxxxx@host:1/2",
		"rediss://:pw@host":                 "rediss://:xxxxx@host",
		"redis://pw@host":                   "redis://xxxxx@host",
		"redis://u:p@w@host":                "redis://u:xxxxx@host",
		"u:pw@host":                         "u:xxxxx@host",
		"unix://u:pw@/tmp/redis.sock?db=1":  "unix://u:xxxxx@/tmp/redis.sock?db=1",
		"redis://u:pw@host/0?client_name=a": "redis://u:xxxxx@host/0?client_name=a",
	} {
		assert.Equal(t, want, redactURL(in), in)
	}
}

func TestConfig_RedisOptionsFromHostPort(t *testing.T) {
	c, err := FromLookup(env{
		"REDIS_HOST": "redis.internal", "REDIS_PORT": "6380", "REDIS_DB": "3",
		"REDIS_PASSWORD": "pw", "REDIS_MAX_CONNECTIONS": "42",
	}.lookup)
	require.NoError(t, err)
	o, err := c.RedisOptions()
	require.NoError(t, err)
	assert.Equal(t, []string{"redis.internal:6380"}, o.Addrs)
	assert.Equal(t, 3, o.DB)
	assert.Equal(t, "pw", o.Password)
	assert.Equal(t, 42, o.PoolSize)
	assert.Nil(t, o.TLSConfig)

	c, err = FromLookup(env{"REDIS_HOST": "::1"}.lookup)
	require.NoError(t, err)
	o, err = c.RedisOptions()
	require.NoError(t, err)
	assert.Equal(t, []string{"[::1]:6379"}, o.Addrs)
	assert.Equal(t, 0, o.PoolSize, "0 keeps the go-redis default")
}

func TestConfig_RedisURLWinsOverHostPort(t *testing.T) {
	c, err := FromLookup(env{
		"REDIS_URL":  "redis://bob:pw1@cache:7000/4?dial_timeout=3&read_timeout=6s",
		"REDIS_HOST": "ignored", "REDIS_PORT": "1", "REDIS_DB": "9", "REDIS_PASSWORD": "ignored-pw",
	}.lookup)
	require.NoError(t, err)
	o, err := c.RedisOptions()
	require.NoError(t, err)
	assert.Equal(t, []string{"cache:7000"}, o.Addrs)
	assert.Equal(t, 4, o.DB)
	assert.Equal(t, "bob", o.Username)
	assert.Equal(t, "pw1", o.Password)
	assert.Equal(t, 3*time.Second, o.DialTimeout)
	assert.Equal(t, 6*time.Second, o.ReadTimeout)
	assert.Nil(t, o.TLSConfig)
}

func TestConfig_RedissURLUsesTLS(t *testing.T) {
	o, err := Config{Redis: Redis{URL: "rediss://:pw@secure.example:6380", Host: "localhost", Port: 6379}}.RedisOptions()
	require.NoError(t, err)
	require.NotNil(t, o.TLSConfig)
	assert.Equal(t, "secure.example", o.TLSConfig.ServerName)
	assert.Equal(t, []string{"secure.example:6380"}, o.Addrs)
}

func TestConfig_RedisURLWithoutPasswordTakesRedisPassword(t *testing.T) {
	c, err := FromLookup(env{"REDIS_URL": "redis://cache:6379/1", "REDIS_PASSWORD": "fallback", "REDIS_MAX_CONNECTIONS": "7"}.lookup)
	require.NoError(t, err)
	o, err := c.RedisOptions()
	require.NoError(t, err)
	assert.Equal(t, "fallback", o.Password)
	assert.Equal(t, 7, o.PoolSize)
	assert.Equal(t, 1, o.DB)
}

func TestConfig_RedisOptionsRejectsInvalidHandBuiltConfig(t *testing.T) {
	_, err := Config{}.RedisOptions()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "REDIS_HOST")
	assert.Contains(t, err.Error(), "REDIS_PORT")
	_, err = Config{}.NewRedisClient()
	require.Error(t, err)
	assert.Error(t, Config{}.Validate())
}

func TestConfig_NewRedisClientConnectsWithURLCredentials(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.RequireUserAuth("app", "p@ss:word")
	ctx := context.Background()

	c, err := FromLookup(env{"REDIS_URL": "redis://app:p%40ss%3Aword@" + mr.Addr() + "/2"}.lookup)
	require.NoError(t, err)
	rdb, err := c.NewRedisClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Set(ctx, "k", "v", 0).Err())
	got, err := mr.DB(2).Get("k")
	require.NoError(t, err, "the URL's /db is selected")
	assert.Equal(t, "v", got)

	bad, err := FromLookup(env{"REDIS_URL": "redis://app:wrong@" + mr.Addr()}.lookup)
	require.NoError(t, err)
	rdb2, err := bad.NewRedisClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb2.Close() })
	assert.Error(t, rdb2.Ping(ctx).Err())
}

func TestConfig_NewRedisClientConnectsWithHostPortPassword(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.RequireAuth("envpw")
	host, port, ok := strings.Cut(mr.Addr(), ":")
	require.True(t, ok)
	c, err := FromLookup(env{"REDIS_HOST": host, "REDIS_PORT": port, "REDIS_DB": "1", "REDIS_PASSWORD": "envpw"}.lookup)
	require.NoError(t, err)
	rdb, err := c.NewRedisClient()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	_, isSingle := rdb.(*redis.Client)
	assert.True(t, isSingle, "one address gives a single-node client")
	require.NoError(t, rdb.Set(context.Background(), "k", "v", 0).Err())
	got, err := mr.DB(1).Get("k")
	require.NoError(t, err)
	assert.Equal(t, "v", got)
}

func TestConfig_ManagerCarriesNamespaceAndBudget(t *testing.T) {
	c, err := FromLookup(env{
		"LLM_QUEUE_NAMESPACE": "tenant-a", "LLM_QUEUE_TOTAL_TPM": "100000", "LLM_QUEUE_TOTAL_RPM": "200",
		"LLM_QUEUE_API_ALLOCATION_PERCENT": "50", "LLM_QUEUE_SAFETY_BUFFER_PERCENT": "20",
		"LLM_QUEUE_WINDOW": "2s", "LLM_QUEUE_RETENTION": "1h", "LLM_QUEUE_OP_TIMEOUT": "750ms",
	}.lookup)
	require.NoError(t, err)
	assert.Equal(t, time.Hour, c.Manager.Retention)
	assert.Equal(t, 750*time.Millisecond, c.Manager.OpTimeout)
	qm, err := llmqueue.NewQueueManager(miniClient(t), &c.Manager)
	require.NoError(t, err)
	assert.Equal(t, "tenant-a", qm.Namespace())
	b := qm.Budget()
	assert.EqualValues(t, 100_000, b.TPM)
	assert.EqualValues(t, 200, b.RPM)
	assert.Equal(t, 2*time.Second, b.Window)
	assert.EqualValues(t, 40_000, b.UsableTokens(), "100000 x 50% x (1-20%)")
	assert.EqualValues(t, 80, b.UsableRequests())
}

func TestConfig_SafetyBufferZeroMeansNoBuffer(t *testing.T) {
	for value, usable := range map[string]int64{"0": 100_000, "": 90_000, "10": 90_000, "25": 75_000} {
		t.Run("buffer="+value, func(t *testing.T) {
			c, err := FromLookup(env{"LLM_QUEUE_TOTAL_TPM": "100000", "LLM_QUEUE_SAFETY_BUFFER_PERCENT": value}.lookup)
			require.NoError(t, err)
			qm, err := llmqueue.NewQueueManager(miniClient(t), &c.Manager)
			require.NoError(t, err)
			assert.Equal(t, usable, qm.Budget().UsableTokens())
		})
	}
}

func TestConfig_WorkerCarriesCycleAndConcurrency(t *testing.T) {
	c, err := FromLookup(env{
		"LLM_QUEUE_BATCH_LOW_COUNT": "5", "LLM_QUEUE_BATCH_MEDIUM_COUNT": "3", "LLM_QUEUE_BATCH_LONG_COUNT": "2",
		"LLM_QUEUE_CONCURRENCY": "7", "LLM_QUEUE_MAX_EMPTY_CYCLES": "9", "LLM_QUEUE_QUOTA_WAIT_DURATION": "90",
	}.lookup)
	require.NoError(t, err)
	assert.Equal(t, llmqueue.Cycle{Low: 5, Medium: 3, Long: 2}, c.Worker.Cycle)
	assert.Equal(t, 9, c.Worker.MaxEmptyCycles)
	assert.Equal(t, 90*time.Second, c.Worker.MaxBudgetWait)
	qm, err := llmqueue.NewQueueManager(miniClient(t), &c.Manager)
	require.NoError(t, err)
	bp, err := llmqueue.NewBatchProcessor(qm, noop, &c.Worker)
	require.NoError(t, err)
	st := bp.Status()
	assert.Equal(t, map[string]int{"low": 5, "medium": 3, "long": 2, "concurrency": 7}, st.BatchConfig)
}

// TestConfig_DefaultMatchesLibraryDefaults: an empty environment runs as
// the zero configurations do.
func TestConfig_DefaultMatchesLibraryDefaults(t *testing.T) {
	d := Default()
	qm, err := llmqueue.NewQueueManager(miniClient(t), &d.Manager)
	require.NoError(t, err)
	plain, err := llmqueue.NewQueueManager(miniClient(t), nil)
	require.NoError(t, err)
	assert.Equal(t, plain.Namespace(), qm.Namespace())
	assert.Equal(t, plain.Budget(), qm.Budget())

	bp, err := llmqueue.NewBatchProcessor(qm, noop, &d.Worker)
	require.NoError(t, err)
	bpPlain, err := llmqueue.NewBatchProcessor(plain, noop, nil)
	require.NoError(t, err)
	assert.Equal(t, bpPlain.Status().BatchConfig, bp.Status().BatchConfig)
	assert.Equal(t, time.Minute, d.Worker.MaxBudgetWait)
	assert.Equal(t, 3, d.Worker.MaxEmptyCycles)
	assert.Equal(t, 10, d.Worker.Concurrency)
}

// noop completes every request with an empty result.
var noop = llmqueue.ProcessorFunc(func(context.Context, *llmqueue.Job) (*llmqueue.Result, error) {
	return &llmqueue.Result{}, nil
})

func TestLoad_ReadsTheProcessEnvironment(t *testing.T) {
	t.Setenv("LLM_QUEUE_TOTAL_TPM", "1234")
	t.Setenv("LLM_QUEUE_NAMESPACE", "from-env")
	c, err := Load()
	require.NoError(t, err)
	assert.EqualValues(t, 1234, c.Manager.Budget.TPM)
	assert.Equal(t, "from-env", c.Manager.Namespace)

	t.Setenv("LLM_QUEUE_CONCURRENCY", "many")
	_, err = Load()
	require.ErrorContains(t, err, "LLM_QUEUE_CONCURRENCY")
}

// miniClient returns a client on a fresh miniredis; nothing here needs
// more than that.
func miniClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// FuzzConfigFromLookup feeds arbitrary values to every variable. Reading
// must never panic; a Config it accepts must build a manager and a
// processor; and REDIS_PASSWORD must never appear in an error or String.
func FuzzConfigFromLookup(f *testing.F) {
	f.Add("redis://u:p@h:1/2", "90000", "50", "90s", "ns", "hunter2-secret")
	f.Add("", "", "", "", "", "")
	f.Add("rediss://:pw@host", "-1", "NaN", "60", "{bad}", "x")
	f.Add("redis://u:p%zz@h", "abc", "100", "0", "a b", "pw-pw-pw")
	f.Add("unix://u:pw@/tmp/sock?db=1", "9223372036854775808", "+Inf", "1.5", strings.Repeat("n", 65), "")
	f.Add("http://x", "0", "0", "-5s", "default", "secret-value")
	f.Add("redis://h/0?pool_size=abc", "1", "99.99", "9223372037", ":", "s")

	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialed
	f.Cleanup(func() { _ = client.Close() })

	f.Fuzz(func(t *testing.T, redisURL, number, percent, duration, namespace, password string) {
		values := []string{number, percent, duration}
		e := env{"REDIS_URL": redisURL, "LLM_QUEUE_NAMESPACE": namespace, "REDIS_PASSWORD": password}
		i := 0
		for _, v := range configVars(&Config{}) {
			if _, set := e[v.name]; !set {
				e[v.name] = values[i%len(values)]
				i++
			}
		}
		// A marker around the fuzzed password makes it distinctive, so
		// finding it in an output is a leak, not a coincidence.
		secret := "Zq9!" + password + "!9qZ"
		e["REDIS_PASSWORD"] = secret
		c, err := FromLookup(e.lookup)
		quoted := strconv.Quote(secret)
		leaks := func(s string) bool {
			for k, v := range e {
				if k != "REDIS_PASSWORD" && strings.Contains(v, "Zq9!") {
					return false // the fuzzer wrote the marker elsewhere
				}
			}
			return strings.Contains(s, secret) || strings.Contains(s, quoted[1:len(quoted)-1])
		}
		if leaks(c.String()) || leaks(fmt.Sprintf("%#v", c)) {
			t.Fatalf("password in String: %s", c)
		}
		if err != nil {
			if leaks(err.Error()) {
				t.Fatalf("password in error: %v", err)
			}
			var ee *EnvError
			if !errors.As(err, &ee) {
				t.Fatalf("error is not an *EnvError: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
		if _, err := c.RedisOptions(); err != nil {
			t.Fatalf("accepted config fails RedisOptions: %v", err)
		}
		qm, err := llmqueue.NewQueueManager(client, &c.Manager)
		if err != nil {
			t.Fatalf("accepted config fails NewQueueManager: %v\n%s", err, c)
		}
		if _, err := llmqueue.NewBatchProcessor(qm, noop, &c.Worker); err != nil {
			t.Fatalf("accepted config fails NewBatchProcessor: %v\n%s", err, c)
		}
	})
}

func TestConfig_TLSFilesGoTogether(t *testing.T) {
	env := map[string]string{"REDIS_TLS_CERT_FILE": "/nonexistent/client.pem"}
	_, err := FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), "REDIS_TLS_CERT_FILE") {
		t.Fatalf("want an error naming REDIS_TLS_CERT_FILE, got %v", err)
	}
	env["REDIS_TLS_KEY_FILE"] = "/nonexistent/client.key"
	_, err = FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), "REDIS_TLS_CERT_FILE") {
		t.Fatalf("want a load error naming REDIS_TLS_CERT_FILE, got %v", err)
	}
}
