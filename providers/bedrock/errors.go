package bedrock

import (
	"context"
	"errors"
	"net/http"

	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/llmqueue/llmqueue/providers"
	"github.com/llmqueue/llmqueue/providers/internal/errmap"
)

// classify maps a Converse error to the queue's error classes: by exception
// type first, then by HTTP status, then as a transport failure.
func classify(jobCtx, callCtx context.Context, err error) error {
	status, h := response(err)
	var (
		throttling   *types.ThrottlingException
		quota        *types.ServiceQuotaExceededException
		denied       *types.AccessDeniedException
		validation   *types.ValidationException
		notFound     *types.ResourceNotFoundException
		modelTimeout *types.ModelTimeoutException
		notReady     *types.ModelNotReadyException
		modelErr     *types.ModelErrorException
		unavailable  *types.ServiceUnavailableException
		internal     *types.InternalServerException
	)
	switch {
	case errors.As(err, &throttling), errors.As(err, &quota):
		return errmap.RateLimited(providerName, h, err)
	case errors.As(err, &denied):
		return errmap.Permanent(providerName, providers.ErrAuth, err)
	case errors.As(err, &validation), errors.As(err, &notFound):
		return errmap.Permanent(providerName, providers.ErrBadRequest, err)
	case errors.As(err, &modelTimeout), errors.As(err, &notReady), errors.As(err, &modelErr),
		errors.As(err, &unavailable), errors.As(err, &internal):
		return errmap.Retryable(providerName, h, err)
	case status > 0:
		return errmap.Status(providerName, status, h, err)
	}
	if classified, ok := errmap.Transport(providerName, jobCtx, callCtx, err); ok {
		return classified
	}
	// Unknown (for example credentials that could not be resolved): retry
	// it, the request's retry limit bounds the cost.
	return errmap.Retryable(providerName, nil, err)
}

// response returns the HTTP status and headers of the response an error
// came with, or 0 and nil when there was none.
func response(err error) (int, http.Header) {
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.Response != nil && respErr.Response.Response != nil {
		return respErr.HTTPStatusCode(), respErr.Response.Header
	}
	return 0, nil
}
