package envconfig

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kubeRedis is what Kubernetes sets in a pod for a Service named redis
// at 10.0.0.11:6379, besides REDIS_PORT_6379_TCP and its parts.
var kubeRedis = env{
	"REDIS_SERVICE_HOST": "10.0.0.11",
	"REDIS_SERVICE_PORT": "6379",
	"REDIS_PORT":         "tcp://10.0.0.11:6379",
}

func TestConfigFromLookup_KubernetesServiceVariables(t *testing.T) {
	with := func(base env, extra env) env {
		e := env{}
		for k, v := range base {
			e[k] = v
		}
		for k, v := range extra {
			e[k] = v
		}
		return e
	}
	tests := []struct {
		name     string
		env      env
		wantAddr string
		wantURL  string // RedisURL, when the URL wins
	}{
		{"nothing set", env{}, "localhost:6379", ""},
		{"only the service variables", env{"REDIS_SERVICE_HOST": "10.0.0.11", "REDIS_SERVICE_PORT": "6380"}, "10.0.0.11:6380", ""},
		{"only the service host", env{"REDIS_SERVICE_HOST": "10.0.0.11"}, "10.0.0.11:6379", ""},
		{"only the service port", env{"REDIS_SERVICE_PORT": "7000"}, "localhost:7000", ""},
		{"REDIS_HOST and REDIS_PORT win over the service variables",
			env{"REDIS_HOST": "redis.internal", "REDIS_PORT": "6390", "REDIS_SERVICE_HOST": "10.0.0.11", "REDIS_SERVICE_PORT": "6380"},
			"redis.internal:6390", ""},
		{"REDIS_HOST wins, the service port fills in", env{"REDIS_HOST": "redis.internal", "REDIS_SERVICE_HOST": "10.0.0.11", "REDIS_SERVICE_PORT": "6380"},
			"redis.internal:6380", ""},
		{"tcp:// form alone gives host and port", env{"REDIS_PORT": "tcp://10.0.0.12:6381"}, "10.0.0.12:6381", ""},
		{"tcp:// form, scheme in upper case", env{"REDIS_PORT": "TCP://10.0.0.12:6381"}, "10.0.0.12:6381", ""},
		{"tcp:// form with an IPv6 host", env{"REDIS_PORT": "tcp://[fd00::11]:6379"}, "[fd00::11]:6379", ""},
		{"all Kubernetes sets", kubeRedis, "10.0.0.11:6379", ""},
		{"tcp:// host wins over REDIS_SERVICE_HOST, as both come from REDIS_PORT's pair",
			env{"REDIS_PORT": "tcp://10.0.0.12:6381", "REDIS_SERVICE_HOST": "10.0.0.11", "REDIS_SERVICE_PORT": "6379"}, "10.0.0.12:6381", ""},
		{"REDIS_HOST wins over the tcp:// host; its port is kept", with(kubeRedis, env{"REDIS_HOST": "redis.internal"}), "redis.internal:6379", ""},
		{"a numeric REDIS_PORT wins over REDIS_SERVICE_PORT", env{"REDIS_PORT": "6390", "REDIS_SERVICE_HOST": "10.0.0.11", "REDIS_SERVICE_PORT": "6380"},
			"10.0.0.11:6390", ""},
		{"blank REDIS_HOST counts as unset", env{"REDIS_HOST": " ", "REDIS_SERVICE_HOST": "10.0.0.11"}, "10.0.0.11:6379", ""},
		{"REDIS_URL wins over all of them", with(kubeRedis, env{"REDIS_URL": "redis://url-host:6400/3", "REDIS_HOST": "redis.internal"}),
			"url-host:6400", "redis://url-host:6400/3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromLookup(tt.env.lookup)
			require.NoError(t, err)
			assert.Equal(t, tt.wantURL, c.Redis.URL)
			o, err := c.RedisOptions()
			require.NoError(t, err)
			assert.Equal(t, []string{tt.wantAddr}, o.Addrs)
		})
	}
}

func TestConfigFromLookup_KubernetesVariablesRejectBadValuesByName(t *testing.T) {
	tests := []struct {
		env    env
		name   string // the variable the error names
		reason string
	}{
		{env{"REDIS_SERVICE_PORT": "abc"}, "REDIS_SERVICE_PORT", "not an integer"},
		{env{"REDIS_SERVICE_PORT": "0"}, "REDIS_SERVICE_PORT", "must be 1-65535"},
		{env{"REDIS_SERVICE_PORT": "65536"}, "REDIS_SERVICE_PORT", "must be 1-65535"},
		{env{"REDIS_SERVICE_PORT": "-1", "REDIS_PORT": "6379"}, "REDIS_SERVICE_PORT", "must be 1-65535"},
		{env{"REDIS_PORT": "tcp://10.0.0.11"}, "REDIS_PORT", "want a port number or tcp://host:port"},
		{env{"REDIS_PORT": "tcp://:6379"}, "REDIS_PORT", "want a port number or tcp://host:port"},
		{env{"REDIS_PORT": "tcp://10.0.0.11:"}, "REDIS_PORT", "want a port number or tcp://host:port"},
		{env{"REDIS_PORT": "tcp://10.0.0.11:http"}, "REDIS_PORT", "want a port number or tcp://host:port"},
		{env{"REDIS_PORT": "tcp://10.0.0.11:6379/0"}, "REDIS_PORT", "want a port number or tcp://host:port"},
		{env{"REDIS_PORT": "tcp://10.0.0.11:+6379"}, "REDIS_PORT", "want a port number or tcp://host:port"},
		{env{"REDIS_PORT": "udp://10.0.0.11:6379"}, "REDIS_PORT", "want a port number or tcp://host:port"},
		{env{"REDIS_PORT": "redis://10.0.0.11:6379"}, "REDIS_PORT", "want a port number or tcp://host:port"},
		{env{"REDIS_PORT": "tcp://10.0.0.11:0"}, "REDIS_PORT", "port must be 1-65535"},
		{env{"REDIS_PORT": "tcp://10.0.0.11:70000"}, "REDIS_PORT", "port must be 1-65535"},
		{env{"REDIS_PORT": "tcp://10.0.0.11:99999999999999999999"}, "REDIS_PORT", "port must be 1-65535"},
		{env{"REDIS_PORT": "abc", "REDIS_SERVICE_PORT": "6379"}, "REDIS_PORT", "not an integer"},
		{env{"REDIS_PORT": "tcp://10.0.0.11", "REDIS_URL": "redis://h:1"}, "REDIS_PORT", "want a port number"},
	}
	for _, tt := range tests {
		var parts []string
		for k, v := range tt.env {
			parts = append(parts, k+"="+v)
		}
		t.Run(strings.Join(parts, ","), func(t *testing.T) {
			_, err := FromLookup(tt.env.lookup)
			require.Error(t, err)
			var ee *EnvError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, tt.name, ee.Name)
			assert.Equal(t, tt.env[tt.name], ee.Value)
			assert.Contains(t, ee.Reason, tt.reason)
			assert.Len(t, strings.Split(err.Error(), "\n"), 1, "one bad variable, one error")
		})
	}
}
