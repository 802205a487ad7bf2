package envconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
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
	if c.Redis.URL != "" {
		if _, err := parseRedisURL(c.Redis.URL, c.Redis.Password); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Redis.Host == "" {
		bad(envRedisHost, c.Redis.Host, "must not be empty")
	}
	if c.Redis.Port < 1 || c.Redis.Port > 65535 {
		bad(envRedisPort, c.Redis.Port, "must be 1-65535")
	}
	if c.Redis.DB < 0 {
		bad(envRedisDB, c.Redis.DB, "must be >= 0")
	}
	if c.Redis.MaxConnections < 0 || c.Redis.MaxConnections > maxRedisPoolSize {
		bad(envRedisMaxConns, c.Redis.MaxConnections, fmt.Sprintf("must be 0-%d (0 = go-redis default)", maxRedisPoolSize))
	}
	if (c.Redis.TLSCertFile == "") != (c.Redis.TLSKeyFile == "") {
		bad(envRedisTLSCert, c.Redis.TLSCertFile, "REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together")
	}
	return errors.Join(errs...)
}

// linkScheme starts the docker-link form of REDIS_PORT, tcp://host:port,
// which Kubernetes sets for a Service named redis beside
// REDIS_SERVICE_HOST and REDIS_SERVICE_PORT.
const linkScheme = "tcp://"

// redisPortVar parses REDIS_PORT: a number, which validate range-checks,
// or tcp://host:port, whose port and host are taken. configVars reads
// REDIS_HOST after it, so REDIS_HOST, when set, wins for the host.
func redisPortVar(port *int, host *string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, "://") {
			return intVar(port)(s)
		}
		h, n, reason := parseLinkAddr(s)
		if reason != "" {
			return reason
		}
		*port, *host = n, h
		return ""
	}
}

// servicePortVar parses REDIS_SERVICE_PORT. A bad port is refused here,
// under its own name, and leaves the port as it was, so validate does not
// report it again as REDIS_PORT.
func servicePortVar(port *int) func(string) string {
	return func(s string) string {
		var n int
		if reason := intVar(&n)(s); reason != "" {
			return reason
		}
		if n < 1 || n > 65535 {
			return "must be 1-65535"
		}
		*port = n
		return ""
	}
}

// parseLinkAddr splits tcp://host:port (the scheme in any case; an IPv6
// host in brackets) into its host and port, or says why it cannot.
func parseLinkAddr(s string) (host string, port int, reason string) {
	const want = "want a port number or tcp://host:port"
	if len(s) < len(linkScheme) || !strings.EqualFold(s[:len(linkScheme)], linkScheme) {
		return "", 0, want
	}
	h, p, err := net.SplitHostPort(s[len(linkScheme):])
	if err != nil || h == "" {
		return "", 0, want
	}
	if p == "" || strings.Trim(p, "0123456789") != "" {
		return "", 0, want
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, "port must be 1-65535"
	}
	return h, n, ""
}

// parseRedisURL parses REDIS_URL. Its error is an *EnvError whose Value is
// the URL redacted (see redactURL) and whose Reason shows no piece of a
// password: neither the user info's, nor a ?password= option's (which
// go-redis refuses as unexpected), nor extra, the REDIS_PASSWORD beside it.
func parseRedisURL(raw string, extra ...string) (*redis.Options, error) {
	o, err := redis.ParseURL(raw)
	if err == nil {
		return o, nil
	}
	// err is not wrapped: its text, and url.Error's URL, may hold the
	// password, and whatever walks an error chain would print it.
	return nil, &EnvError{Name: envRedisURL, Value: redactURL(raw), Reason: urlErrorReason(raw, err, extra)}
}

// Hints appended to a reason, so the fix is in the message.
const (
	hintEncode   = " (percent-encode '#', '/', '?', '@' and '%' in a password: %23 %2F %3F %40 %25)"
	hintPassword = " (go-redis takes the password only from the user info, redis://:PASSWORD@host, or set REDIS_PASSWORD)"
	reasonBadURL = "not a valid URL"
)

// urlErrorReason turns a redis.ParseURL error into a reason that carries
// nothing of raw's secrets.
//
// url.Parse's errors quote the text they stumbled on, and an unencoded
// '#', '/' or '?' ends the user info early, so that text is the start of
// the password (`invalid port ":Sec" after host`): only the words before
// the quote are kept. go-redis's errors repeat a scheme, path, option name
// or value after a colon; they are kept unless they show a piece of a
// secret, then cut to the words before that colon.
func urlErrorReason(raw string, err error, extra []string) string {
	var ue *url.Error
	if errors.As(err, &ue) { // url.Error also repeats the whole URL
		reason, _, _ := strings.Cut(ue.Err.Error(), `"`)
		reason = strings.TrimPrefix(strings.TrimSpace(reason), "net/url: ")
		if reason == "" {
			reason = reasonBadURL
		}
		if rawUserinfo(raw) != "" || secretQueryStart(raw) >= 0 {
			reason += hintEncode
		}
		return reason
	}
	reason := strings.TrimPrefix(err.Error(), "redis: ")
	if showsSecret(reason, urlSecrets(raw, extra)) {
		// go-redis writes "what: data"; the words before the colon are its
		// own (an option name at most), the data may be the secret.
		reason, _, _ = strings.Cut(reason, ":")
	}
	if strings.HasPrefix(reason, "unexpected option") && secretQueryStart(raw) >= 0 {
		reason += hintPassword
	}
	return reason
}

// urlSecrets returns what in raw may be a password, erring towards too
// much: the user info and its password part, everything after a
// password-like query option's '=', the port of a URL without '@' that is
// not a number (a password whose host was forgotten), and extra. Each
// comes as written, percent-decoded, and as Go quotes it (%q).
func urlSecrets(raw string, extra []string) []string {
	var parts []string
	if info := rawUserinfo(raw); info != "" {
		parts = append(parts, info, userinfoSecret(info))
	}
	if i := secretQueryStart(raw); i >= 0 {
		parts = append(parts, raw[i:])
	}
	if i := portSecretStart(raw); i >= 0 {
		parts = append(parts, raw[i:])
	}
	parts = append(parts, extra...)
	var forms []string
	for _, p := range parts {
		if p == "" {
			continue
		}
		forms = append(forms, p, quoted(p))
		for _, unescape := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
			if dec, err := unescape(p); err == nil && dec != p {
				forms = append(forms, dec, quoted(dec))
			}
		}
	}
	return forms
}

// quoted is s as %q shows it, without the quotes.
func quoted(s string) string { q := strconv.Quote(s); return q[1 : len(q)-1] }

// showsSecret reports whether text holds any secret, or any three-byte
// piece of one.
func showsSecret(text string, secrets []string) bool {
	for _, s := range secrets {
		if len(s) <= 3 {
			if strings.Contains(text, s) {
				return true
			}
			continue
		}
		for i := 0; i+3 <= len(s); i++ {
			if strings.Contains(text, s[i:i+3]) {
				return true
			}
		}
	}
	return false
}

// schemePrefix matches "scheme://" at the start of a URL (RFC 3986's
// scheme syntax), so a "://" inside a password is not taken for one.
var schemePrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// rawUserinfo returns what a URL holds before its last '@' (after any
// "scheme://"), without trusting the URL to parse. It errs towards taking
// too much, so redaction errs towards hiding too much.
func rawUserinfo(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return ""
	}
	start := len(schemePrefix.FindString(raw))
	if start > at {
		start = 0
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

// secretQueryStart returns where the value of the first password-like
// query option ("password=", "pass=", "token=", ...) begins in raw, or -1.
// The value is taken to run to the end of raw, because an unencoded '&' or
// '#' may be part of it.
func secretQueryStart(raw string) int {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '?' && raw[i] != '&' {
			continue
		}
		rest := raw[i+1:]
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return -1
		}
		key := rest[:eq]
		if strings.ContainsAny(key, "?&#") {
			continue
		}
		if dec, err := url.QueryUnescape(key); err == nil {
			key = dec
		}
		if secretQueryKey(key) {
			return i + 1 + eq + 1
		}
	}
	return -1
}

// secretQueryKey reports whether a query option's name says its value is a
// credential.
func secretQueryKey(key string) bool {
	key = strings.ToLower(key)
	for _, w := range []string{"pass", "pwd", "secret", "token", "auth", "key"} {
		if strings.Contains(key, w) {
			return true
		}
	}
	return false
}

// portSecretStart returns where the port of a URL without '@' begins when
// that port is not a number, or -1: "redis://:PASSWORD" is a password
// whose '@' and host were forgotten, and the parser would call it a port.
func portSecretStart(raw string) int {
	scheme := schemePrefix.FindString(raw)
	if scheme == "" || strings.Contains(raw, "@") {
		return -1
	}
	authority := raw[len(scheme):]
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	hostEnd := strings.LastIndexByte(authority, ']') + 1 // after an IPv6 literal
	colon := strings.IndexByte(authority[hostEnd:], ':')
	if colon < 0 {
		return -1
	}
	port := authority[hostEnd+colon+1:]
	if strings.Trim(port, "0123456789") == "" {
		return -1
	}
	return len(scheme) + hostEnd + colon + 1
}

// redactURL replaces what in a URL may be a password with "xxxxx": the
// user info's password (or a lone user info), the value of a
// password-like query option and all after it, and a port that is not a
// number in a URL without '@'. Host, path and other options stay, so the
// result still says where Redis is.
func redactURL(raw string) string {
	const red = "xxxxx"
	if i := secretQueryStart(raw); i >= 0 {
		raw = raw[:i] + red
	}
	if i := portSecretStart(raw); i >= 0 {
		raw = raw[:i] + red
	}
	info := rawUserinfo(raw)
	if info == "" {
		return raw
	}
	at := strings.LastIndex(raw, "@")
	start := at - len(info)
	hidden := red
	if user, _, ok := strings.Cut(info, ":"); ok {
		hidden = user + ":" + red
	}
	return raw[:start] + hidden + raw[at:]
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
	if c.Redis.URL == "" {
		return c.withTLS(&redis.UniversalOptions{
			Addrs:    []string{net.JoinHostPort(c.Redis.Host, strconv.Itoa(c.Redis.Port))},
			DB:       c.Redis.DB,
			Password: c.Redis.Password,
			PoolSize: c.Redis.MaxConnections,
			// Without it go-redis ignores a context's deadline on the
			// socket, and OpTimeout could not bound a call to a hung Redis.
			ContextTimeoutEnabled: true,
		})
	}
	o, err := parseRedisURL(c.Redis.URL, c.Redis.Password)
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
		u.Password = c.Redis.Password
	}
	if c.Redis.MaxConnections > 0 {
		u.PoolSize = c.Redis.MaxConnections
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
	if c.Redis.TLSCAFile != "" {
		pem, err := os.ReadFile(c.Redis.TLSCAFile)
		if err != nil {
			return nil, nil, &EnvError{Name: envRedisTLSCA, Value: c.Redis.TLSCAFile, Reason: err.Error()}
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, &EnvError{Name: envRedisTLSCA, Value: c.Redis.TLSCAFile, Reason: "no PEM certificates in the file"}
		}
	}
	if c.Redis.TLSCertFile == "" {
		return roots, nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.Redis.TLSCertFile, c.Redis.TLSKeyFile)
	if err != nil {
		return nil, nil, &EnvError{Name: envRedisTLSCert, Value: c.Redis.TLSCertFile, Reason: err.Error()}
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
