package redisstore

import (
	"context"
	"fmt"
)

// MaxMemoryPolicy returns the server's maxmemory-policy (on a Cluster, the
// policy of the node the client asks). It fails where CONFIG is forbidden,
// as on many managed services.
func (s *Store) MaxMemoryPolicy(ctx context.Context) (string, error) {
	m, err := s.rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return "", err
	}
	p, ok := m["maxmemory-policy"]
	if !ok {
		return "", fmt.Errorf("config get maxmemory-policy: no such parameter in %d replies", len(m))
	}
	return p, nil
}
