package envconfig

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// markerLetters are the letters a test password is made of. None of them
// appears in any text the config errors and String add of their own
// ("REDIS_URL", "REDIS_PASSWORD", "xxxxx", lower-case reasons), so a
// three-character piece of the password found in an output came from the
// password, not from a coincidence.
const markerLetters = "QZJKVY"

// markerSpecials are the characters that split or end a URL's parts; a
// password holding them unencoded is what trips the parsers.
const markerSpecials = "#/?@:%&=+;! ."

// markerPassword turns fuzz bytes into a distinctive password: marker
// letters around and between the URL's special characters.
func markerPassword(b string) string {
	var sb strings.Builder
	sb.WriteString("QZJ")
	for i := 0; i < len(b); i++ {
		if strings.IndexByte(markerSpecials, b[i]) >= 0 {
			sb.WriteByte(b[i])
		} else {
			sb.WriteByte(markerLetters[int(b[i])%len(markerLetters)])
		}
	}
	sb.WriteString("KVY")
	return sb.String()
}

// leakedPiece returns a piece of password found in out: the whole of it,
// or any three-character piece that holds a marker letter (pieces of
// special characters alone, such as "://", are everywhere in a URL). It
// returns "" when out shows nothing of the password.
func leakedPiece(out, password string) string {
	if strings.Contains(out, password) {
		return password
	}
	for i := 0; i+3 <= len(password); i++ {
		p := password[i : i+3]
		if strings.ContainsAny(p, markerLetters) && strings.Contains(out, p) {
			return p
		}
	}
	return ""
}

// secretOutputs collects every text a deployment may print about a Config
// built from env: errors of FromLookup, Validate, RedisOptions and
// NewRedisClient, and String, GoString and slog's forms of the Config.
func secretOutputs(e env) map[string]string {
	out := map[string]string{}
	c, err := FromLookup(e.lookup)
	if err != nil {
		out["FromLookup error"] = err.Error()
	}
	// A Config built in code with the same values reaches the same checks
	// without FromLookup's per-variable parsing in between.
	built := Default()
	built.Redis.URL, built.Redis.Password = e["REDIS_URL"], e["REDIS_PASSWORD"]
	for name, cfg := range map[string]Config{"read": c, "built": built} {
		if err := cfg.Validate(); err != nil {
			out[name+" Validate error"] = err.Error()
		}
		if _, err := cfg.RedisOptions(); err != nil {
			out[name+" RedisOptions error"] = err.Error()
		}
		if rdb, err := cfg.NewRedisClient(); err != nil {
			out[name+" NewRedisClient error"] = err.Error()
		} else {
			_ = rdb.Close()
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("config", "cfg", cfg)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "cfg", cfg)
		out[name+" String"] = cfg.String()
		out[name+" GoString"] = fmt.Sprintf("%#v", cfg)
		out[name+" slog text"] = text.String()
		out[name+" slog json"] = js.String()
	}
	return out
}

// urlLayouts places a password in a Redis URL the ways people write one:
// in the user info (with and without a user, with no scheme, as a lone
// name), as a ?password= query option next to good and bad options, and
// both at once. rest is what follows the user info: host, port, path,
// query.
var urlLayouts = []func(pw, rest string) string{
	func(pw, rest string) string { return "redis://user:" + pw + "@" + rest },
	func(pw, rest string) string { return "redis://:" + pw + "@" + rest },
	// A lone user info is taken for a password, unless it has a ':'
	// that makes the part before it a user name.
	func(pw, rest string) string { return "rediss://" + strings.ReplaceAll(pw, ":", "") + "@" + rest },
	func(pw, rest string) string { return "unix://user:" + pw + "@" + rest },
	func(pw, rest string) string { return "user:" + pw + "@" + rest },
	func(pw, rest string) string { return "redis://" + rest + "?password=" + pw },
	func(pw, rest string) string { return "redis://" + rest + "?dial_timeout=soon&password=" + pw },
	func(pw, rest string) string { return "redis://" + rest + "?password=" + pw + "&bogus=1" },
	func(pw, rest string) string { return "redis://" + rest + "?PassWord=" + pw },
	func(pw, rest string) string { return "redis://u:" + pw + "@" + rest + "?password=" + pw },
	// The password with its '@' and host forgotten (an '@' in it would
	// make the rest a host).
	func(pw, rest string) string { return "redis://:" + strings.ReplaceAll(pw, "@", "") },
}

// FuzzRedisURLPassword puts a marker password into Redis URLs of every
// layout, with fuzzed special characters in it and a fuzzed remainder,
// and checks that no error, String, GoString or slog output carries the
// password or any three-character piece of it. REDIS_PASSWORD holds the
// same password, so its path is checked too.
func FuzzRedisURLPassword(f *testing.F) {
	for i := range urlLayouts {
		for _, seed := range []struct{ pw, rest string }{
			{"secret", "127.0.0.1:6379/0"},
			{"Sec#ret", "127.0.0.1:6379/0"},
			{"Sec/ret", "host:6379/0"},
			{"Sec?ret", "host/0?db=1"},
			{"p@ss:w0rd!", "host:x/0"},
			{"top%zzsecret", "host/notadb"},
			{"a&db=b", "host/0"},
			{"", "host/0?bogus=1"},
		} {
			f.Add(seed.pw, uint8(i), seed.rest)
		}
	}
	f.Fuzz(func(t *testing.T, raw string, layout uint8, rest string) {
		pw := markerPassword(raw)
		// The remainder must not bring marker letters of its own.
		rest = strings.Map(func(r rune) rune {
			if strings.ContainsRune(markerLetters, r) {
				return -1
			}
			return r
		}, rest)
		u := urlLayouts[int(layout)%len(urlLayouts)](pw, rest)
		for name, out := range secretOutputs(env{"REDIS_URL": u, "REDIS_PASSWORD": pw}) {
			if piece := leakedPiece(out, pw); piece != "" {
				t.Fatalf("REDIS_URL=%q: %s shows %q of the password %q:\n%s", u, name, piece, pw, out)
			}
		}
	})
}
