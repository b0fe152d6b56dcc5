package testfakes

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFaults(t *testing.T) {
	body := strings.Repeat("x", 1000)
	f := NewFaults(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, body)
	}))
	srv := httptest.NewServer(f)
	defer srv.Close()
	get := func(path string) (int, string, error) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}

	count := f.Inject(Fault{Match: ObjectReads("a.tgz")})
	unavailable := f.Inject(Fault{Match: ObjectReads("a.tgz"), Times: 2, Status: 503, Body: "busy"})
	cut := f.Inject(Fault{Match: ObjectReads("b.tgz"), Times: 1, CutAfter: 10})

	for i, want := range []int{503, 503, 200} {
		if code, _, err := get("/bucket/a.tgz"); err != nil || code != want {
			t.Fatalf("request %d: %d, %v; want %d", i, code, err, want)
		}
	}
	if count.Seen() != 3 || count.Failed() != 0 || unavailable.Seen() != 3 || unavailable.Failed() != 2 {
		t.Fatalf("counted %d/%d, unavailable %d/%d", count.Seen(), count.Failed(), unavailable.Seen(), unavailable.Failed())
	}

	_, got, err := get("/bucket/b.tgz")
	if err == nil || len(got) != 10 {
		t.Fatalf("cut download: %d bytes, err %v; want 10 bytes and an error", len(got), err)
	}
	if _, got, err := get("/bucket/b.tgz"); err != nil || got != body || cut.Failed() != 1 {
		t.Fatalf("after the cut: %d bytes, %v, %d cut", len(got), err, cut.Failed())
	}

	f.Clear()
	if code, _, err := get("/bucket/a.tgz"); err != nil || code != 200 || count.Seen() != 3 {
		t.Fatalf("after Clear: %d, %v, seen %d", code, err, count.Seen())
	}
	if ObjectReads("a.tgz")(httptest.NewRequest("PUT", "/bucket/a.tgz", nil)) {
		t.Fatal("ObjectReads matched an upload")
	}
}
