package llmqueue

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Wait blocks until the request reaches a terminal status (completed,
// dead or canceled) or ctx ends, and returns its final status. It listens
// for the namespace's pub/sub events instead of polling; a suspended
// request keeps Wait waiting until it is resumed and finishes.
func (q *QueueManager) Wait(ctx context.Context, id string) (*RequestStatus, error) {
	// Subscribe before the first read, so a transition between the two
	// cannot be missed.
	sub := q.store.Client().Subscribe(ctx, q.store.Keys().Events)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return nil, fmt.Errorf("llmqueue: wait %s: subscribe: %w", id, storeErr(err))
	}
	ch := sub.Channel()
	for {
		st, err := q.Status(ctx, id)
		if err != nil {
			return nil, err
		}
		if st.Status.Terminal() {
			return st, nil
		}
	events:
		for {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("llmqueue: wait %s: %w", id, ctx.Err())
			case msg, ok := <-ch:
				if !ok {
					return nil, fmt.Errorf("llmqueue: wait %s: %w", id, errors.New("subscription closed"))
				}
				// The status is the last word: an ID may hold spaces.
				if i := strings.LastIndexByte(msg.Payload, ' '); i >= 0 && msg.Payload[:i] == id {
					break events
				}
			}
		}
	}
}
