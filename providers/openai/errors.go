package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/providers"
	"github.com/llmqueue/llmqueue/providers/internal/errmap"
)

// codeInsufficientQuota is the error code of a 429 that means the account
// is out of credit: waiting does not help.
const codeInsufficientQuota = "insufficient_quota"

// preflight are the errors go-openai returns before sending anything, for a
// request it knows the API would refuse.
var preflight = []error{
	goopenai.ErrChatCompletionInvalidModel,
	goopenai.ErrChatCompletionStreamNotSupported,
	goopenai.ErrReasoningModelMaxTokensDeprecated,
	goopenai.ErrReasoningModelLimitationsLogprobs,
	goopenai.ErrReasoningModelLimitationsOther,
	goopenai.ErrReasoningEffortUnsupported,
	goopenai.ErrReasoningToolsRequireResponses,
	goopenai.ErrReasoningSamplingUnsupported,
	goopenai.ErrO1BetaLimitationsMessageTypes,
	goopenai.ErrO1BetaLimitationsTools,
}

// classify maps a CreateChatCompletion error to the queue's error classes.
// h is the response's headers (nil when there was no response).
func classify(jobCtx, callCtx context.Context, h http.Header, err error) error {
	var (
		apiErr *goopenai.APIError
		reqErr *goopenai.RequestError
	)
	switch {
	case errors.As(err, &apiErr) && apiErr.HTTPStatusCode > 0:
		if code, _ := apiErr.Code.(string); code == codeInsufficientQuota {
			return llmqueue.Permanent(fmt.Errorf("%s: %w: %w", providerName, providers.ErrQuota, err))
		}
		return errmap.Status(providerName, apiErr.HTTPStatusCode, h, err)
	case errors.As(err, &reqErr) && reqErr.HTTPStatusCode > 0:
		return errmap.Status(providerName, reqErr.HTTPStatusCode, h, err)
	}
	if classified, ok := errmap.Transport(providerName, jobCtx, callCtx, err); ok {
		return classified
	}
	for _, target := range preflight {
		if errors.Is(err, target) {
			return errmap.Permanent(providerName, providers.ErrBadRequest, err)
		}
	}
	// Unknown: retry it, the request's retry limit bounds the cost.
	return errmap.Retryable(providerName, h, err)
}
