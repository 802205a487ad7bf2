package providertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// sigV4Prefix starts every SigV4 Authorization header.
const sigV4Prefix = "AWS4-HMAC-SHA256 "

// sigV4 is a parsed SigV4 Authorization header.
type sigV4 struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
}

// parseSigV4 parses "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/
// bedrock/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseSigV4(auth string) (sigV4, error) {
	var s sigV4
	rest, ok := strings.CutPrefix(auth, sigV4Prefix)
	if !ok {
		return s, errors.New("authorization is not AWS4-HMAC-SHA256")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return s, fmt.Errorf("malformed authorization field %q", part)
		}
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return s, errors.New("malformed credential scope")
	}
	if fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return s, errors.New("missing SignedHeaders or Signature")
	}
	s.accessKeyID, s.date, s.region, s.service = scope[0], scope[1], scope[2], scope[3]
	s.signedHeaders = strings.Split(fields["SignedHeaders"], ";")
	return s, nil
}

// verifySigV4 checks r's signature by signing a copy of it (only the headers
// the client signed, the same time and body) with creds and comparing the
// Authorization headers.
func verifySigV4(r *http.Request, body []byte, creds aws.Credentials) error {
	auth := r.Header.Get("Authorization")
	sig, err := parseSigV4(auth)
	if err != nil {
		return err
	}
	if sig.accessKeyID != creds.AccessKeyID {
		return errUnknownKey
	}
	signingTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("bad X-Amz-Date: %w", err)
	}
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	cp, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	cp.URL = u
	cp.Host = r.Host
	cp.ContentLength = 0
	for _, name := range sig.signedHeaders {
		switch name {
		case "host":
		case "content-length":
			cp.ContentLength = int64(len(body))
		default:
			cp.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
		}
	}
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(context.Background(), creds, cp, hex.EncodeToString(sum[:]), sig.service, sig.region, signingTime)
	if err != nil {
		return err
	}
	if cp.Header.Get("Authorization") != auth {
		return errBadSignature
	}
	return nil
}

var (
	errUnknownKey   = errors.New("unknown access key")
	errBadSignature = errors.New("signature mismatch")
)
