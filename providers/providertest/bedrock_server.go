package providertest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/llmqueue/llmqueue/providers/internal/burndown"
)

// Static credentials and region for tests and examples that talk to the
// fake Bedrock server. They are not real AWS credentials.
const (
	TestAccessKeyID     = "AKIDLLMQUEUETEST"
	TestSecretAccessKey = "llmqueue-test-secret"
	TestRegion          = "us-east-1"
)

// BedrockOptions configures NewBedrockServer. The zero value is an unlimited
// server that checks signatures against TestAccessKeyID and
// TestSecretAccessKey.
type BedrockOptions struct {
	Limits
	// AccessKeyID and SecretAccessKey are the only credentials accepted.
	// Both default to the Test constants.
	AccessKeyID, SecretAccessKey string
	// SkipSignatureCheck accepts any Authorization header that starts with
	// AWS4-HMAC-SHA256 instead of recomputing the signature.
	SkipSignatureCheck bool
	// Latency is how long each completion takes.
	Latency time.Duration
	// OutputFraction is the share of maxTokens a reply uses; zero means
	// all of it.
	OutputFraction float64
	// Burndown adds output burndown rates by model-ID prefix to Bedrock's
	// own table; see burndown.Rate.
	Burndown map[string]float64
}

// BedrockServer is a fake Bedrock runtime server speaking the Converse REST
// JSON protocol. Point a client at URL (BaseEndpoint) with Credentials.
type BedrockServer struct {
	// Server is the underlying test server; Close stops it.
	*httptest.Server

	opts    BedrockOptions
	limiter *limiter
	faults  faultQueue
	seq     atomic.Int64
}

// NewBedrockServer starts a fake Bedrock runtime on loopback. It answers POST
// /model/{modelId}/converse and meters calls the way Bedrock documents
// (https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-token-burndown.html):
// at arrival it reserves input + maxTokens, where input = ceil(characters
// of the system prompt and messages / 4) and maxTokens is
// inferenceConfig.maxTokens (DefaultCompletionTokens when unset); when the
// reply is sent it settles the call to input + cache writes (none here) +
// output x the model's burndown rate, output being ceil(maxTokens x
// OutputFraction). The input dimension (ITPM) is the input, the output
// dimension (OTPM) the output x burndown. The reply's usage is what the
// service reports: inputTokens, outputTokens and their sum, without
// burndown.
//
// Requests must be SigV4-signed with the configured credentials. Errors,
// including the ThrottlingException of a call that does not fit, carry
// X-Amzn-ErrorType and a {"message": …} body and no rate-limit headers, as
// the real service sends them. Call Close when done.
func NewBedrockServer(opts BedrockOptions) *BedrockServer {
	if opts.AccessKeyID == "" {
		opts.AccessKeyID = TestAccessKeyID
	}
	if opts.SecretAccessKey == "" {
		opts.SecretAccessKey = TestSecretAccessKey
	}
	s := &BedrockServer{opts: opts, limiter: newLimiter(opts.Limits)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /model/{modelId}/converse", s.handleConverse)
	s.Server = newArrivalServer(mux)
	return s
}

// Credentials returns a provider of the static credentials the server
// accepts.
func (s *BedrockServer) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(s.opts.AccessKeyID, s.opts.SecretAccessKey, "")
}

// Inject makes the next requests fail with faults, one request each, in
// order. Injected faults skip the rate limiter (not the signature check).
func (s *BedrockServer) Inject(faults ...Fault) { s.faults.push(faults...) }

// Stats returns what the server has seen so far.
func (s *BedrockServer) Stats() Stats { return s.limiter.snapshot() }

// Calls returns every call the server accepted, by arrival, with its
// settled charge.
func (s *BedrockServer) Calls() []Call { return s.limiter.record() }

// converseRequest is the part of a Converse request the fake reads.
type converseRequest struct {
	Messages []struct {
		Role    string `json:"role"`
		Content []struct {
			Text *string `json:"text"`
		} `json:"content"`
	} `json:"messages"`
	System []struct {
		Text string `json:"text"`
	} `json:"system"`
	InferenceConfig struct {
		MaxTokens int64 `json:"maxTokens"`
	} `json:"inferenceConfig"`
}

func (s *BedrockServer) handleConverse(w http.ResponseWriter, r *http.Request) {
	s.limiter.count(func(st *Stats) { st.Requests++ })
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.reject(w, http.StatusBadRequest, "SerializationException", "could not read the request body")
		return
	}
	if !s.authorized(w, r, body) {
		return
	}
	if f, ok := s.faults.pop(); ok {
		s.limiter.count(func(st *Stats) { st.Injected++ })
		writeFault(w, r, f, writeBedrockFault)
		return
	}
	var req converseRequest
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
		s.reject(w, http.StatusBadRequest, "ValidationException", "The provided request is not valid: messages are required.")
		return
	}
	chars := 0
	for _, b := range req.System {
		chars += utf8.RuneCountInString(b.Text)
	}
	for _, m := range req.Messages {
		for _, c := range m.Content {
			if c.Text != nil {
				chars += utf8.RuneCountInString(*c.Text)
			}
		}
	}
	input := charsToTokens(chars)
	maxTokens := int64(DefaultCompletionTokens)
	if req.InferenceConfig.MaxTokens > 0 {
		maxTokens = req.InferenceConfig.MaxTokens
	}
	v := s.limiter.admit(Call{At: arrival(r), Tokens: input + maxTokens, InputTokens: input, OutputTokens: maxTokens})
	if !v.ok {
		writeBedrockError(w, http.StatusTooManyRequests, "ThrottlingException", "Too many tokens, please wait before trying again.")
		return
	}
	if s.opts.Latency > 0 {
		hang(r, Fault{Delay: s.opts.Latency})
	}
	output := outputTokens(maxTokens, s.opts.OutputFraction)
	rate := burndown.Rate(r.PathValue("modelId"), s.opts.Burndown)
	burned := int64(math.Ceil(float64(output) * rate))
	s.limiter.settle(v.id, Call{Tokens: input + burned, InputTokens: input, OutputTokens: burned})
	stop := "end_turn"
	if output == maxTokens {
		stop = "max_tokens"
	}
	s.seq.Add(1)
	s.limiter.count(func(st *Stats) { st.Completed++ })
	writeJSON(w, http.StatusOK, map[string]any{
		"metrics": map[string]any{"latencyMs": s.opts.Latency.Milliseconds()},
		"output": map[string]any{"message": map[string]any{
			"role":    "assistant",
			"content": []map[string]any{{"text": strings.TrimSpace(strings.Repeat("ok ", int(min(output, 64))))}},
		}},
		"stopReason": stop,
		"usage": map[string]any{
			"inputTokens": input, "outputTokens": output, "totalTokens": input + output,
		},
	})
}

// authorized checks the SigV4 signature and answers 403 when it is wrong.
func (s *BedrockServer) authorized(w http.ResponseWriter, r *http.Request, body []byte) bool {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		s.reject(w, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return false
	}
	if s.opts.SkipSignatureCheck {
		if _, err := parseSigV4(auth); err != nil {
			s.reject(w, http.StatusForbidden, "IncompleteSignatureException", "Authorization header requires a valid AWS4-HMAC-SHA256 signature.")
			return false
		}
		return true
	}
	creds := aws.Credentials{AccessKeyID: s.opts.AccessKeyID, SecretAccessKey: s.opts.SecretAccessKey}
	switch err := verifySigV4(r, body, creds); err {
	case nil:
		return true
	case errUnknownKey:
		s.reject(w, http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
	default:
		s.reject(w, http.StatusForbidden, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
	}
	return false
}

func (s *BedrockServer) reject(w http.ResponseWriter, status int, errType, message string) {
	s.limiter.count(func(st *Stats) { st.Rejected++ })
	writeBedrockError(w, status, errType, message)
}

// writeBedrockFault writes an injected fault as Bedrock's error response;
// writeFault has already handled the faults that are not an error body.
func writeBedrockFault(w http.ResponseWriter, f Fault) {
	msg := f.messageOr
	switch f.Kind {
	case FaultRateLimit:
		writeBedrockError(w, http.StatusTooManyRequests, "ThrottlingException", msg("Too many requests, please wait before trying again."))
	case FaultQuota:
		writeBedrockError(w, http.StatusBadRequest, "ServiceQuotaExceededException", msg("Your request exceeds the service quota for your account."))
	case FaultAuth:
		writeBedrockError(w, http.StatusForbidden, "AccessDeniedException", msg("You don't have access to the model with the specified model ID."))
	case FaultBadRequest:
		writeBedrockError(w, http.StatusBadRequest, "ValidationException", msg("The provided request is not valid: temperature must be between 0 and 1."))
	case FaultNotFound:
		writeBedrockError(w, http.StatusNotFound, "ResourceNotFoundException", msg("The requested model was not found."))
	case FaultServer:
		writeBedrockError(w, http.StatusInternalServerError, "InternalServerException", msg("An internal server error occurred."))
	case FaultUnavailable:
		writeBedrockError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", msg("The service is currently unavailable."))
	case FaultModelTimeout:
		writeBedrockError(w, http.StatusRequestTimeout, "ModelTimeoutException", msg("The model took too long to respond."))
	case FaultHang: // the client waited f.Delay for this
		writeBedrockError(w, http.StatusGatewayTimeout, "ServiceUnavailableException", msg("Gateway timeout."))
	case FaultCustom:
		writeBedrockError(w, f.Status, f.Code, msg("custom fault"))
	default:
		writeBedrockError(w, http.StatusInternalServerError, "InternalServerException", msg("unknown fault "+f.Kind.String()))
	}
}

// writeBedrockError writes an AWS REST JSON error: the type in
// X-Amzn-ErrorType (with the coral namespace suffix the service adds) and
// {"message": …} as the body.
func writeBedrockError(w http.ResponseWriter, status int, errType, message string) {
	w.Header().Set("X-Amzn-ErrorType", errType+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("fake-%d", time.Now().UnixNano()))
	writeJSON(w, status, map[string]any{"message": message})
}
