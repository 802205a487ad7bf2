package llmqueue

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// validateRedis checks the fields RedisOptions reads.
func (c Config) validateRedis() error {
	var errs []error
	bad := func(name string, value any, reason string) {
		errs = append(errs, &EnvError{Name: name, Value: fmt.Sprint(value), Reason: reason})
	}
	if c.RedisURL != "" {
		if _, err := parseRedisURL(c.RedisURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.RedisHost == "" {
		bad(envRedisHost, c.RedisHost, "must not be empty")
	}
	if c.RedisPort < 1 || c.RedisPort > 65535 {
		bad(envRedisPort, c.RedisPort, "must be 1-65535")
	}
	if c.RedisDB < 0 {
		bad(envRedisDB, c.RedisDB, "must be >= 0")
	}
	if c.RedisMaxConnections < 0 || c.RedisMaxConnections > maxRedisPoolSize {
		bad(envRedisMaxConns, c.RedisMaxConnections, fmt.Sprintf("must be 0-%d (0 = go-redis default)", maxRedisPoolSize))
	}
	if (c.RedisTLSCertFile == "") != (c.RedisTLSKeyFile == "") {
		bad(envRedisTLSCert, c.RedisTLSCertFile, "REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together")
	}
	return errors.Join(errs...)
}

// parseRedisURL parses REDIS_URL, keeping the password out of any error.
func parseRedisURL(raw string) (*redis.Options, error) {
	o, err := redis.ParseURL(raw)
	if err == nil {
		return o, nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error repeats the whole URL
	}
	reason := err.Error()
	if info := rawUserinfo(raw); info != "" {
		var esc url.EscapeError
		if errors.As(err, &esc) && strings.Contains(info, string(esc)) {
			reason = "invalid %-escape in the user info"
		}
		for _, secret := range []string{info, userinfoSecret(info)} {
			dec, _ := url.PathUnescape(secret)
			if secret != "" && (strings.Contains(reason, secret) || (dec != "" && strings.Contains(reason, dec))) {
				reason = "not a valid Redis URL"
			}
		}
	}
	return nil, &EnvError{Name: envRedisURL, Value: redactURL(raw), Reason: reason}
}

// rawUserinfo returns what a URL holds before its last '@' (after any
// "scheme://"), without trusting the URL to parse. It errs towards taking
// too much, so redaction errs towards hiding too much.
func rawUserinfo(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return ""
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		start = i + 3
	}
	return raw[start:at]
}

// userinfoSecret returns the password part of a userinfo: after the first
// ':', or all of it when there is no ':' (a lone name may be a password
// written without its colon).
func userinfoSecret(info string) string {
	if _, pass, ok := strings.Cut(info, ":"); ok {
		return pass
	}
	return info
}

// redactURL replaces a URL's password (or lone userinfo) with "xxxxx".
func redactURL(raw string) string {
	info := rawUserinfo(raw)
	if info == "" {
		return raw
	}
	at := strings.LastIndex(raw, "@")
	start := at - len(info)
	red := "xxxxx"
	if user, _, ok := strings.Cut(info, ":"); ok {
		red = user + ":xxxxx"
	}
	return raw[:start] + red + raw[at:]
}

func redactValue(name, value string) string {
	switch name {
	case envRedisPassword:
		return "xxxxx"
	case envRedisURL:
		return redactURL(value)
	}
	return value
}

// RedisOptions returns the options for redis.NewUniversalClient: from
// RedisURL when set (TLS for rediss://), else from host, port, DB and
// password. A single address gives a single-node client.
func (c Config) RedisOptions() (*redis.UniversalOptions, error) {
	if err := c.validateRedis(); err != nil {
		return nil, err
	}
	if c.RedisURL == "" {
		return c.withTLS(&redis.UniversalOptions{
			Addrs:    []string{net.JoinHostPort(c.RedisHost, strconv.Itoa(c.RedisPort))},
			DB:       c.RedisDB,
			Password: c.RedisPassword,
			PoolSize: c.RedisMaxConnections,
			// Without it go-redis ignores a context's deadline on the
			// socket, and OpTimeout could not bound a call to a hung Redis.
			ContextTimeoutEnabled: true,
		})
	}
	o, err := parseRedisURL(c.RedisURL)
	if err != nil {
		return nil, err
	}
	u := &redis.UniversalOptions{
		Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password,
		TLSConfig: o.TLSConfig, ClientName: o.ClientName, Protocol: o.Protocol,
		MaxRetries: o.MaxRetries, MinRetryBackoff: o.MinRetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		ContextTimeoutEnabled: true, PoolFIFO: o.PoolFIFO, PoolSize: o.PoolSize,
		PoolTimeout: o.PoolTimeout, MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns,
		MaxActiveConns: o.MaxActiveConns, ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
		DisableIdentity: o.DisableIdentity, IdentitySuffix: o.IdentitySuffix,
	}
	if u.Password == "" {
		u.Password = c.RedisPassword
	}
	if c.RedisMaxConnections > 0 {
		u.PoolSize = c.RedisMaxConnections
	}
	return c.withTLS(u)
}

// withTLS adds the CA and client certificate files to o. A CA or client
// certificate without rediss:// (or TLS from the URL) turns TLS on.
func (c Config) withTLS(o *redis.UniversalOptions) (*redis.UniversalOptions, error) {
	roots, certs, err := c.tlsFiles()
	if err != nil {
		return nil, err
	}
	if roots == nil && certs == nil {
		return o, nil
	}
	if o.TLSConfig == nil {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if host, _, err := net.SplitHostPort(o.Addrs[0]); err == nil {
			o.TLSConfig.ServerName = host
		}
	}
	if roots != nil {
		o.TLSConfig.RootCAs = roots
	}
	if certs != nil {
		o.TLSConfig.Certificates = certs
	}
	return o, nil
}

// tlsFiles loads REDIS_TLS_CA_FILE and the client key pair; nil results
// when they are not set.
func (c Config) tlsFiles() (*x509.CertPool, []tls.Certificate, error) {
	var roots *x509.CertPool
	if c.RedisTLSCAFile != "" {
		pem, err := os.ReadFile(c.RedisTLSCAFile)
		if err != nil {
			return nil, nil, &EnvError{Name: envRedisTLSCA, Value: c.RedisTLSCAFile, Reason: err.Error()}
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, &EnvError{Name: envRedisTLSCA, Value: c.RedisTLSCAFile, Reason: "no PEM certificates in the file"}
		}
	}
	if c.RedisTLSCertFile == "" {
		return roots, nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.RedisTLSCertFile, c.RedisTLSKeyFile)
	if err != nil {
		return nil, nil, &EnvError{Name: envRedisTLSCert, Value: c.RedisTLSCertFile, Reason: err.Error()}
	}
	return roots, []tls.Certificate{cert}, nil
}

// NewRedisClient connects a client with RedisOptions. It does not dial:
// the first command does.
func (c Config) NewRedisClient() (redis.UniversalClient, error) {
	o, err := c.RedisOptions()
	if err != nil {
		return nil, err
	}
	return redis.NewUniversalClient(o), nil
}
