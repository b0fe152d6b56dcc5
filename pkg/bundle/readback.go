package bundle

import (
	"context"
	"io"
)

// readBack is a writer that verifies what Pack writes while it is written,
// with the reader's own code and the same limits: the compression ratio
// and everything else a reader checks. Write fails with the reader's
// refusal as soon as it has one, so an over-limit bundle stops packing at
// the first refused byte.
type readBack struct {
	pw   *io.PipeWriter
	done chan error
}

func newReadBack(ctx context.Context, lim Limits) *readBack {
	pr, pw := io.Pipe()
	rb := &readBack{pw: pw, done: make(chan error, 1)}
	go func() {
		// The signature was just made; only its format is checked here.
		_, err := Verify(ctx, pr, &ReadOptions{AllowUnsigned: true, Limits: lim})
		rb.done <- err // before the pipe closes: a Write that fails finds it in wait
		pr.CloseWithError(err)
	}()
	return rb
}

func (rb *readBack) Write(p []byte) (int, error) { return rb.pw.Write(p) }

// wait ends the archive and returns the reader's verdict. When writing
// failed (writeErr), it returns the reader's refusal if that is why,
// nil otherwise: the write error is the caller's to report.
func (rb *readBack) wait(writeErr error) error {
	if writeErr == nil {
		rb.pw.Close()
		return <-rb.done
	}
	select {
	case err := <-rb.done:
		return err
	default:
	}
	rb.pw.CloseWithError(writeErr)
	<-rb.done
	return nil
}
