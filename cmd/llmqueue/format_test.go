package main

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// itoa formats n.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// jsonUnmarshal decodes s into v.
func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func TestFormat_Helpers(t *testing.T) {
	assert.Equal(t, "##########", bar(10, 10, 10))
	assert.Equal(t, "#########!", bar(20, 10, 10))
	assert.Equal(t, "#.........", bar(1, 1000, 10))
	assert.Equal(t, "..........", bar(0, 1000, 10))
	assert.Equal(t, "#####.....", bar(5, 10, 10))
	assert.Equal(t, "abcd…", truncate("abcdefgh", 5))
	assert.Equal(t, "a b", truncate("a\n b", 5))
	assert.Equal(t, "0s", compactDuration(-time.Second))
	assert.Equal(t, "42s", compactDuration(42*time.Second))
	assert.Equal(t, "5m", compactDuration(5*time.Minute))
	assert.Equal(t, "3h12m", compactDuration(3*time.Hour+12*time.Minute))
	assert.Equal(t, "2d4h", compactDuration(52*time.Hour))
	assert.Equal(t, "none", seconds(0))
	assert.Equal(t, "2.5s", seconds(2.5))
	assert.Equal(t, "not json", prettyJSON([]byte("not json"), ""))
}
