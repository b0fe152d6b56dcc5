package internal

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

var formats = []struct {
	name   string
	format Format
	field  string
	warn   string
}{
	{"lambda", LambdaFormat, "level", "WARN"},
	{"cloud logging", CloudLoggingFormat, "severity", "WARNING"},
	{"azure", AzureFormat, "level", "WARN"},
}

func decode(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	if strings.TrimSpace(buf.String()) == "" {
		return nil
	}
	return lines(t, buf)
}

// Each platform's handler writes the level in its field with its names,
// "message", "time" in UTC and "platform", then the attributes; DEBUG only
// with debug on.
func TestHandlerLevelsAndFields(t *testing.T) {
	for _, tc := range formats {
		for _, debug := range []bool{false, true} {
			var buf bytes.Buffer
			log := NewLogger(&buf, "test", tc.format, debug)
			log.Debug("d")
			log.Info("i", "eventId", "ev-1", "invocationId", "inv-1", "empty", "", "n", 3)
			log.Warn("w")
			log.Error("e")
			log.Log(t.Context(), slog.LevelWarn+1, "between")
			got := decode(t, &buf)
			want := []string{"INFO", tc.warn, "ERROR", tc.warn}
			if debug {
				want = append([]string{"DEBUG"}, want...)
			}
			var levels []string
			for _, l := range got {
				levels = append(levels, l[tc.field].(string))
				if _, other := l[map[string]string{"level": "severity", "severity": "level"}[tc.field]]; other {
					t.Errorf("%s: both level fields: %v", tc.name, l)
				}
				if _, err := time.Parse(time.RFC3339Nano, l["time"].(string)); err != nil || !strings.HasSuffix(l["time"].(string), "Z") {
					t.Errorf("%s: time %v", tc.name, l["time"])
				}
				if l["platform"] != "test" || l["msg"] != nil {
					t.Errorf("%s: line %v", tc.name, l)
				}
			}
			if strings.Join(levels, " ") != strings.Join(want, " ") {
				t.Errorf("%s debug %v: levels %v, want %v", tc.name, debug, levels, want)
			}
			info := got[len(got)-4]
			if info["message"] != "i" || info["eventId"] != "ev-1" || info["invocationId"] != "inv-1" || info["n"] != 3.0 {
				t.Errorf("%s: attributes %v", tc.name, info)
			}
			if _, ok := info["empty"]; ok {
				t.Errorf("%s: an empty attribute was written: %v", tc.name, info)
			}
		}
	}
}

// A password in the message, in a string attribute (of the logger, of a
// group), in an error attribute or a Stringer never reaches the log.
func TestHandlerRedactsEverything(t *testing.T) {
	const conn = "postgresql://deployer:hunter2@db.example.com/app"
	for _, tc := range formats {
		var buf bytes.Buffer
		log := NewLogger(&buf, "test", tc.format, true).With("target", conn)
		log.Warn("connecting to "+conn, "dsn", conn, "err", errors.New("password=hunter2 refused"),
			"url", stringer(conn), slog.Group("g", slog.String("conn", "host=db password=hunter2")))
		log.Debug("keyword form host=db password=hunter2 user=u")
		LineWriter(log, func(line string) (slog.Level, string) { return slog.LevelError, line }).
			Write([]byte("dial " + conn + "\n"))
		if strings.Contains(buf.String(), "hunter2") {
			t.Fatalf("%s: a secret reached the log:\n%s", tc.name, buf.String())
		}
		l := decode(t, &buf)
		if len(l) != 3 || l[0][tc.field] != tc.warn || !strings.Contains(l[0]["message"].(string), "db.example.com") ||
			!strings.Contains(l[0]["dsn"].(string), "[redacted]") || !strings.Contains(l[0]["err"].(string), "refused") {
			t.Fatalf("%s: lines %v", tc.name, l)
		}
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

// LineWriter makes each written line one record at classify's level,
// skips blank lines, and DEBUG is gated as for any record.
func TestLineWriter(t *testing.T) {
	var buf bytes.Buffer
	w := LineWriter(NewLogger(&buf, "test", LambdaFormat, false), func(line string) (slog.Level, string) {
		if strings.HasPrefix(line, "debug") {
			return slog.LevelDebug, line
		}
		return slog.LevelWarn, "lib: " + line
	})
	in := "one\r\n\n  \ndebug two\nthree\n"
	if n, err := w.Write([]byte(in)); err != nil || n != len(in) {
		t.Fatalf("wrote %d, %v", n, err)
	}
	l := decode(t, &buf)
	if len(l) != 2 || l[0]["message"] != "lib: one" || l[1]["message"] != "lib: three" || l[1]["level"] != "WARN" {
		t.Fatalf("lines %v", l)
	}
	var out map[string]any
	if json.Unmarshal(bytes.Split(buf.Bytes(), []byte("\n"))[0], &out) != nil {
		t.Fatal("not JSON")
	}
}
