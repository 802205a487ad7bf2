package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TLS is how a client reaches the TLS listener of a server started by
// StartTLS.
type TLS struct {
	// Addr is 127.0.0.1:port of the TLS listener.
	Addr string
	// CAFile is the PEM certificate of the CA that signed the server's
	// certificate, made for this test alone.
	CAFile string
	// RootCAs holds that CA and nothing else.
	RootCAs *x509.CertPool
}

// URL returns rediss://host:port, with :password@ when password is set.
func (t *TLS) URL(password string) string {
	u := url.URL{Scheme: "rediss", Host: t.Addr}
	if password != "" {
		u.User = url.UserPassword("", password)
	}
	return u.String()
}

// ClientConfig returns a client TLS config that trusts the test CA only.
func (t *TLS) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: t.RootCAs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// StartTLS starts a redis-server as StartReal does that also accepts TLS
// on a second loopback port:
//
//	--tls-port Q --tls-cert-file F --tls-key-file K --tls-ca-cert-file CA --tls-auth-clients no ARGS...
//
// The certificate is for 127.0.0.1 and localhost, signed by an ECDSA CA
// generated for the test; the PEM files live in the server's directory.
// The plain port stays open on loopback so Client, Stop, Start and the
// readiness probe work unchanged; TLS clients use the returned TLS.
//
// If redis-server was built without TLS the test is skipped, or fails
// when LLMQUEUE_REQUIRE_REDIS=1.
func StartTLS(tb testing.TB, args ...string) (*Server, *TLS) {
	tb.Helper()
	bin := requireBinary(tb, "redis-server")
	dir := tb.TempDir()
	caFile, certFile, keyFile, pool, err := writeTestCerts(dir)
	if err != nil {
		tb.Fatalf("redistest: generating TLS certificates: %v", err)
	}
	s := &Server{Backend: Real}
	n := &node{bin: bin, dir: dir}
	s.nodes = []*node{n}
	s.stopAllOnCleanup(tb)
	var tlsPort int
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(2, false)
		if err != nil {
			tb.Fatal(err)
		}
		n.port, tlsPort = ports[0], ports[1]
		n.extra = append([]string{
			"--tls-port", strconv.Itoa(tlsPort),
			"--tls-cert-file", certFile,
			"--tls-key-file", keyFile,
			"--tls-ca-cert-file", caFile,
			"--tls-auth-clients", "no",
		}, args...)
		logStart := n.logSize()
		err = n.launch()
		if err == nil {
			break
		}
		n.stop(cleanupGrace)
		log := string(n.logFrom(logStart))
		switch {
		case strings.Contains(log, "Address already in use") && attempt < portAttempts:
			continue
		case tlsUnsupported(log):
			if os.Getenv(EnvRequireRedis) == "1" {
				tb.Fatalf("redistest: redis-server has no TLS support but %s=1:%s", EnvRequireRedis, n.logTail())
			}
			tb.Skip("redis-server was built without TLS support")
		}
		tb.Fatalf("redistest: starting redis-server with TLS: %v%s", err, n.logTail())
	}
	s.Password = n.password()
	s.Addr = n.addr()
	s.Addrs = []string{s.Addr}
	return s, &TLS{
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort)),
		CAFile:  caFile,
		RootCAs: pool,
	}
}

// tlsUnsupported recognises a startup log of a redis-server built without
// BUILD_TLS, which rejects or cannot serve the tls-* options.
func tlsUnsupported(log string) bool {
	l := strings.ToLower(log)
	if !strings.Contains(l, "tls") {
		return false
	}
	for _, hint := range []string{"not supported", "bad directive", "unknown option", "build_tls", "not compiled"} {
		if strings.Contains(l, hint) {
			return true
		}
	}
	return false
}

// writeTestCerts writes ca.crt, server.crt and server.key (PEM) into dir:
// a self-signed CA and a server certificate for 127.0.0.1 and localhost
// that it signed, both valid from an hour ago for a day.
func writeTestCerts(dir string) (caFile, certFile, keyFile string, pool *x509.CertPool, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "llmqueue redistest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", "", "", nil, err
	}

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		return "", "", "", nil, err
	}

	caFile = filepath.Join(dir, "ca.crt")
	certFile = filepath.Join(dir, "server.crt")
	keyFile = filepath.Join(dir, "server.key")
	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{
		{caFile, "CERTIFICATE", caDER, 0o644},
		{certFile, "CERTIFICATE", srvDER, 0o644},
		{keyFile, "PRIVATE KEY", keyDER, 0o600},
	} {
		b := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(f.path, b, f.mode); err != nil {
			return "", "", "", nil, fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return caFile, certFile, keyFile, pool, nil
}
