package lambdafake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoReply mirrors the reply of testdata/echo.
type echoReply struct {
	Event        json.RawMessage `json:"event"`
	DeadlineMS   int64           `json:"deadline_ms"`
	RemainingMS  int64           `json:"remaining_ms"`
	RequestID    string          `json:"request_id"`
	FunctionARN  string          `json:"function_arn"`
	FunctionName string          `json:"function_name"`
}

const echoPkg = "./internal/testfakes/lambdafake/testdata/echo"

// wait bounds every step that depends on the subprocess.
const wait = 30 * time.Second

func invoke(t *testing.T, rt *Runtime, payload string, deadline time.Time) Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	resp, err := rt.Invoke(ctx, []byte(payload), deadline)
	if err != nil {
		t.Fatalf("Invoke(%s): %v", payload, err)
	}
	return resp
}

func decodeEcho(t *testing.T, resp Response) echoReply {
	t.Helper()
	if resp.Error {
		t.Fatalf("function failed: %s", resp.Body)
	}
	var r echoReply
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		t.Fatalf("decoding reply %s: %v", resp.Body, err)
	}
	return r
}

// TestWithAWSLambdaGo drives a real aws-lambda-go binary through the fake.
func TestWithAWSLambdaGo(t *testing.T) {
	bin := BuildBinary(t, echoPkg, "lambda.norpc")

	t.Run("echo", func(t *testing.T) {
		rt := Start(t)
		rt.Exec(t, bin)
		resp := invoke(t, rt, `{"hello":"world"}`, time.Time{})
		got := decodeEcho(t, resp)
		if string(got.Event) != `{"hello":"world"}` {
			t.Errorf("event = %s", got.Event)
		}
		if got.RequestID == "" || got.RequestID != resp.RequestID {
			t.Errorf("handler saw request id %q, response came for %q", got.RequestID, resp.RequestID)
		}
		if got.FunctionARN != FunctionARN || got.FunctionName != FunctionName {
			t.Errorf("function = %q %q, want %q %q", got.FunctionName, got.FunctionARN, FunctionName, FunctionARN)
		}
	})

	t.Run("deadline header becomes the ctx deadline", func(t *testing.T) {
		rt := Start(t)
		rt.Exec(t, bin)
		deadline := time.Now().Add(42 * time.Second).Truncate(time.Millisecond)
		got := decodeEcho(t, invoke(t, rt, `{}`, deadline))
		if got.DeadlineMS != deadline.UnixMilli() {
			t.Errorf("handler deadline = %d, want %d", got.DeadlineMS, deadline.UnixMilli())
		}
		if got.RemainingMS <= 0 || got.RemainingMS > 42000 {
			t.Errorf("handler had %d ms left, want (0, 42000]", got.RemainingMS)
		}
	})

	t.Run("returned error", func(t *testing.T) {
		rt := Start(t)
		p := rt.Exec(t, bin)
		resp := invoke(t, rt, `{"fail":"deploy failed: bad bundle"}`, time.Time{})
		if !resp.Error || resp.ErrorMessage != "deploy failed: bad bundle" || resp.ErrorType != "errorString" {
			t.Errorf("response = %+v (%s), want the error", resp, resp.Body)
		}
		// The process survives a returned error and takes the next event.
		decodeEcho(t, invoke(t, rt, `{"after":"error"}`, time.Time{}))
		if !strings.Contains(p.Output(), "deploy failed: bad bundle") {
			t.Errorf("the runtime did not log the error; output:\n%s", p.Output())
		}
	})

	t.Run("panic", func(t *testing.T) {
		rt := Start(t)
		p := rt.Exec(t, bin)
		resp := invoke(t, rt, `{"panic":"boom"}`, time.Time{})
		if !resp.Error || resp.ErrorMessage != "boom" || !strings.Contains(string(resp.Body), "stackTrace") {
			t.Errorf("response = %+v (%s), want the panic with a stack", resp, resp.Body)
		}
		select {
		case <-p.Done():
			if p.Err() == nil {
				t.Error("the process exited with status 0 after a panic")
			}
		case <-time.After(wait):
			t.Fatal("the process did not exit after a panic")
		}
	})

	t.Run("concurrent invokes", func(t *testing.T) {
		rt := Start(t)
		rt.Exec(t, bin)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				want := fmt.Sprintf(`{"n":%d}`, i)
				if got := decodeEcho(t, invoke(t, rt, want, time.Time{})); string(got.Event) != want {
					t.Errorf("invoke %d got the answer to %s", i, got.Event)
				}
			})
		}
		wg.Wait()
	})

	t.Run("first poll", func(t *testing.T) {
		rt := Start(t)
		p := rt.Exec(t, bin)
		select {
		case at := <-rt.FirstPoll():
			if at.Before(p.Started) {
				t.Errorf("first poll at %v, before the process started at %v", at, p.Started)
			}
			t.Logf("exec to first poll: %v", at.Sub(p.Started))
		case <-time.After(wait):
			t.Fatalf("no poll; output:\n%s", p.Output())
		}
	})

	t.Run("a withdrawn event is not delivered", func(t *testing.T) {
		rt := Start(t)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := rt.Invoke(ctx, []byte(`{"n":1}`), time.Time{}); err == nil {
			t.Fatal("Invoke without a function returned no error")
		}
		rt.Exec(t, bin)
		if got := decodeEcho(t, invoke(t, rt, `{"n":2}`, time.Time{})); string(got.Event) != `{"n":2}` {
			t.Errorf("the first event delivered was %s", got.Event)
		}
	})

	t.Run("close ends the process", func(t *testing.T) {
		rt := Start(t)
		p := rt.Exec(t, bin)
		select {
		case <-rt.FirstPoll():
		case <-time.After(wait):
			t.Fatal("no poll")
		}
		rt.Close()
		select {
		case <-p.Done():
		case <-time.After(wait):
			t.Fatal("the process kept running after Close")
		}
	})
}

// aws-lambda-go never posts init errors; other runtimes do.
func TestInitError(t *testing.T) {
	rt := Start(t)
	req, _ := http.NewRequest(http.MethodPost, "http://"+rt.Addr+"/2018-06-01/runtime/init/error",
		strings.NewReader(`{"errorMessage":"no PGMI_ROUTES","errorType":"InitError"}`))
	req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("status = %d, want 202", resp.StatusCode)
	}
	got := rt.InitErrors()
	if len(got) != 1 || got[0].Type != "Runtime.ConfigError" || !strings.Contains(string(got[0].Body), "no PGMI_ROUTES") {
		t.Errorf("InitErrors = %+v", got)
	}
}

func TestAnswerForUnknownRequest(t *testing.T) {
	rt := New()
	defer rt.Close()
	resp, err := http.Post("http://"+rt.Addr+"/2018-06-01/runtime/invocation/not-a-request/response",
		"application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", resp.StatusCode)
	}
	if v := rt.Violations(); len(v) != 1 || !strings.Contains(v[0], "not-a-request") {
		t.Errorf("Violations = %q", v)
	}
}
