package otel

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/llmqueue/llmqueue"
)

// modelFromJob is the default of WithModel: the payload's model.
func modelFromJob(job *llmqueue.Job) string {
	return payloadModel(job.Payload)
}

// payloadModel returns the top-level "model" string of a JSON object, else
// its "modelId" string, else "". It reads the object's members in order
// and skips the values it does not need without decoding them, so a
// prompt of many kilobytes costs one pass over its bytes and no
// allocation, and it stops at "model". A value longer than
// maxPayloadModelByteLen bytes is no model name and is ignored. It
// validates only what it reads: a payload cut short after "model" still
// names it; payloads reach a Processor only after Add checked they are
// JSON.
func payloadModel(p []byte) string {
	s := scanner{b: p}
	s.space()
	if !s.eat('{') {
		return ""
	}
	modelID := ""
	s.space()
	if s.eat('}') {
		return ""
	}
	for {
		s.space()
		key, ok := s.str()
		if !ok {
			return ""
		}
		s.space()
		if !s.eat(':') {
			return ""
		}
		s.space()
		switch {
		case string(key) == "model" && s.peek() == '"':
			v, ok := s.str()
			if !ok {
				return ""
			}
			if len(v) > 0 && len(v) <= maxPayloadModelByteLen {
				return string(v)
			}
		case string(key) == "modelId" && s.peek() == '"':
			v, ok := s.str()
			if !ok {
				return ""
			}
			if modelID == "" && len(v) <= maxPayloadModelByteLen {
				modelID = string(v)
			}
		default:
			if !s.skip() {
				return ""
			}
		}
		s.space()
		if !s.eat(',') {
			if s.eat('}') {
				return modelID
			}
			return ""
		}
	}
}

// scanner reads JSON text from b at i.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// strEnd returns the index just past the string that starts at s.i, and
// whether it has escapes; -1 when it does not end.
func (s *scanner) strEnd() (int, bool) {
	if s.peek() != '"' {
		return -1, false
	}
	escaped := false
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, false
}

// str reads a string, decoding its escapes. The bytes are b's own, not
// copied, unless the string has escapes or bytes that are not UTF-8,
// which encoding/json decodes (into U+FFFD for the latter).
func (s *scanner) str() ([]byte, bool) {
	end, escaped := s.strEnd()
	if end < 0 {
		return nil, false
	}
	raw := s.b[s.i:end]
	s.i = end
	if !escaped && utf8.Valid(raw) {
		return raw[1 : len(raw)-1], true
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return nil, false
	}
	return []byte(v), true
}

// skip passes over one value: a string, an object or array with all it
// holds, or a number or literal.
func (s *scanner) skip() bool {
	switch s.peek() {
	case '"':
		end, _ := s.strEnd()
		if end < 0 {
			return false
		}
		s.i = end
		return true
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				end, _ := s.strEnd()
				if end < 0 {
					return false
				}
				s.i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	default:
		start := s.i
		n := bytes.IndexAny(s.b[s.i:], ",}] \t\r\n")
		if n < 0 {
			s.i = len(s.b)
		} else {
			s.i += n
		}
		return s.i > start
	}
}
