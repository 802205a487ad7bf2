package redistest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartTLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tl := StartTLS(t, "--requirepass", "pw")
	assert.Equal(t, "pw", s.Password)
	assert.NotEqual(t, s.Addr, tl.Addr)
	assert.Equal(t, "rediss://:pw@"+tl.Addr, tl.URL("pw"))

	// The plain port still works, for admin clients and the readiness probe.
	require.NoError(t, s.Client(t).Set(ctx, "k", "v", 0).Err())

	short := func(o *redis.Options) *redis.Client {
		o.Addr, o.Password, o.MaxRetries, o.DialTimeout = tl.Addr, "pw", -1, 2*time.Second
		c := redis.NewClient(o)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	// A client that trusts the test CA talks TLS to the TLS port.
	c := short(&redis.Options{TLSConfig: tl.ClientConfig()})
	assert.Equal(t, "v", c.Get(ctx, "k").Val())

	// Without the CA the server's certificate is unknown.
	err := short(&redis.Options{TLSConfig: &tls.Config{ServerName: "127.0.0.1"}}).Ping(ctx).Err()
	var unknown x509.UnknownAuthorityError
	assert.True(t, errors.As(err, &unknown), "want x509.UnknownAuthorityError, got %T: %v", err, err)

	// A plain client on the TLS port gets nowhere.
	assert.Error(t, short(&redis.Options{ReadTimeout: time.Second}).Ping(ctx).Err())

	// Restart keeps both listeners.
	s.Restart(t)
	assert.NoError(t, short(&redis.Options{TLSConfig: tl.ClientConfig()}).Ping(ctx).Err())
}
