package llmqueue

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/llmqueue/llmqueue/internal/reqjson"
)

// The heuristic estimator's fast path. Add runs the estimator on every
// request that carries no estimate, and decoding the payload into maps and
// strings was a quarter of Add's client CPU. scanUsage reads the same
// fields from the payload's bytes without decoding it: it finds the
// top-level fields, counts the characters of JSON strings where they stand
// (escapes and all) and gives the same figures as the decoding path, which
// remains for what the scanner leaves to it (invalid JSON, a payload that
// is not an object, an object key written with escapes).

// scanUsage is HeuristicEstimator.EstimateUsage for a valid JSON object
// payload; ok is false when the decoding path must answer.
func scanUsage(payload []byte, cpt float64, def int64) (u Usage, ok bool) {
	if !json.Valid(payload) {
		return Usage{}, false
	}
	start := skipWS(payload, 0)
	if payload[start] != '{' {
		return Usage{}, false
	}
	var f struct {
		messages, system, instructions, prompt, input                           []byte
		maxCompletion, maxTokens, maxOutput, maxTokensCamel, inferenceConfig, n []byte
	}
	it := members{b: payload, i: start}
	for {
		key, val, more := it.next()
		if !more {
			break
		}
		switch string(key) {
		case "messages":
			f.messages = val
		case "system":
			f.system = val
		case "instructions":
			f.instructions = val
		case "prompt":
			f.prompt = val
		case "input":
			f.input = val
		case "max_completion_tokens":
			f.maxCompletion = val
		case "max_tokens":
			f.maxTokens = val
		case "max_output_tokens":
			f.maxOutput = val
		case "maxTokens":
			f.maxTokensCamel = val
		case "inferenceConfig":
			f.inferenceConfig = val
		case "n":
			f.n = val
		}
	}
	if it.bad {
		return Usage{}, false
	}

	// The output budget, as reqjson.OutputBudget reads it.
	budget, found := int64(0), false
	consider := func(raw []byte) {
		if raw == nil {
			return
		}
		if n, ok := reqjson.Number(raw); ok {
			budget, found = max(budget, n), true
		}
	}
	consider(f.maxCompletion)
	consider(f.maxTokens)
	consider(f.maxOutput)
	consider(f.maxTokensCamel)
	if len(f.inferenceConfig) > 0 && f.inferenceConfig[0] == '{' {
		var mt []byte
		cfg := members{b: f.inferenceConfig}
		for {
			key, val, more := cfg.next()
			if !more {
				break
			}
			if string(key) == "maxTokens" {
				mt = val
			}
		}
		if cfg.bad {
			return Usage{}, false
		}
		consider(mt)
	}
	if !found {
		budget = max(def, 0)
	}
	choices := int64(1)
	if f.n != nil {
		if n, ok := reqjson.Number(f.n); ok && n > 1 {
			choices = n
		}
	}
	out := reqjson.MulSat(budget, choices)

	// The prompt's characters, as promptChars counts them.
	var chars int64
	have := false
	add := func(n int64, good, ok bool) bool {
		if good {
			chars, have = chars+n, true
		}
		return ok
	}
	if f.messages != nil && !add(scanMessages(f.messages)) {
		return Usage{}, false
	}
	if f.system != nil && !add(scanContent(f.system)) {
		return Usage{}, false
	}
	if f.instructions != nil && f.instructions[0] == '"' {
		add(stringRunes(f.instructions), true, true)
	}
	if f.prompt != nil {
		add(scanStrings(f.prompt))
	}
	if f.input != nil {
		if n, good, _ := scanStrings(f.input); good {
			add(n, true, true)
		} else if !add(scanMessages(f.input)) {
			return Usage{}, false
		}
	}
	if have {
		return Usage{InputTokens: ceilDiv(chars, cpt), OutputTokens: out}, true
	}
	return Usage{InputTokens: ceilDiv(int64(len(payload)), cpt), OutputTokens: out}, true
}

// scanMessages is messagesChars on valid JSON: an array of objects (or
// nulls) whose "content" counts. ok is false when the decoding path must
// answer.
func scanMessages(raw []byte) (chars int64, good, ok bool) {
	if raw[0] != '[' {
		return 0, false, true
	}
	// json.Unmarshal into []map fails as a whole on any element that is
	// neither an object nor null.
	it := elements{b: raw}
	for {
		el, more := it.next()
		if !more {
			break
		}
		switch el[0] {
		case 'n':
		case '{':
			var c []byte
			m := members{b: el}
			for {
				key, val, more := m.next()
				if !more {
					break
				}
				if string(key) == "content" {
					c = val
				}
			}
			if m.bad {
				return 0, false, false
			}
			if c != nil {
				n, _, ok := scanContent(c)
				if !ok {
					return 0, false, false
				}
				chars += n
			}
		default:
			return 0, false, true
		}
	}
	return chars, true, true
}

// scanContent is contentChars on valid JSON: a string, or an array of
// parts whose text counts.
func scanContent(raw []byte) (chars int64, good, ok bool) {
	switch raw[0] {
	case '"':
		return stringRunes(raw), true, true
	case '[':
	default:
		return 0, false, true
	}
	it := elements{b: raw}
	for {
		p, more := it.next()
		if !more {
			break
		}
		switch p[0] {
		case '"':
			chars += stringRunes(p)
		case '{':
			var text []byte
			m := members{b: p}
			for {
				key, val, more := m.next()
				if !more {
					break
				}
				if string(key) == "text" {
					text = val
				}
			}
			if m.bad {
				return 0, false, false
			}
			if text != nil && text[0] == '"' {
				chars += stringRunes(text)
			}
		}
	}
	return chars, true, true
}

// scanStrings is stringsChars on valid JSON: a string, or an array of
// strings (a null element counts nothing; any other fails the array).
func scanStrings(raw []byte) (chars int64, good, ok bool) {
	switch raw[0] {
	case '"':
		return stringRunes(raw), true, true
	case '[':
	default:
		return 0, false, true
	}
	it := elements{b: raw}
	for {
		el, more := it.next()
		if !more {
			break
		}
		switch el[0] {
		case '"':
			chars += stringRunes(el)
		case 'n':
		default:
			return 0, false, true
		}
	}
	return chars, true, true
}

// stringRunes counts the characters of a valid JSON string literal (quotes
// included in raw) as utf8.RuneCountInString counts the decoded string:
// an escape is one character, a valid surrogate pair one, an invalid
// surrogate or an invalid UTF-8 byte one (each becomes U+FFFD).
func stringRunes(raw []byte) int64 {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return int64(utf8.RuneCount(s))
	}
	var n int64
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && s[i+1] == 'u':
			r := hex4(s[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if utf16.DecodeRune(r, hex4(s[i+2:i+6])) != unicode.ReplacementChar {
					i += 6
				}
			}
		case c == '\\':
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			_, size := utf8.DecodeRune(s[i:])
			i += size
		}
		n++
	}
	return n
}

// hex4 reads the four hex digits of a \u escape (valid JSON).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string literal at b[i].
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// skipValue returns the index after the value at b[i] (valid JSON).
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// members walks the members of a valid JSON object b (from its '{' at i),
// giving each key (unquoted, still escaped) and value. A key with an escape
// stops the walk with bad set: the decoding path compares decoded keys.
type members struct {
	b       []byte
	i       int
	started bool
	bad     bool
}

func (m *members) next() (key, val []byte, ok bool) {
	if m.bad {
		return nil, nil, false
	}
	if !m.started {
		m.started = true
		m.i = skipWS(m.b, m.i+1)
	} else {
		m.i = skipWS(m.b, m.i)
		if m.b[m.i] != ',' {
			return nil, nil, false
		}
		m.i = skipWS(m.b, m.i+1)
	}
	if m.b[m.i] != '"' {
		return nil, nil, false // '}'
	}
	end := skipString(m.b, m.i)
	key = m.b[m.i+1 : end-1]
	if bytes.IndexByte(key, '\\') >= 0 {
		m.bad = true
		return nil, nil, false
	}
	v := skipWS(m.b, skipWS(m.b, end)+1) // past ':'
	m.i = skipValue(m.b, v)
	return key, m.b[v:m.i], true
}

// elements walks the elements of a valid JSON array b.
type elements struct {
	b       []byte
	i       int
	started bool
}

func (e *elements) next() (val []byte, ok bool) {
	if !e.started {
		e.started = true
		e.i = skipWS(e.b, e.i+1)
	} else {
		e.i = skipWS(e.b, e.i)
		if e.b[e.i] != ',' {
			return nil, false
		}
		e.i = skipWS(e.b, e.i+1)
	}
	if e.b[e.i] == ']' {
		return nil, false
	}
	v := e.i
	e.i = skipValue(e.b, v)
	return e.b[v:e.i], true
}
