package limits

import (
	"io"
	"net/http"
	"time"
)

// chunk is how much of a file answer is handed to the kernel at once
// (by sendfile, through http's ReadFrom) between deadline extensions: a
// client must accept it within WriteTimeout, about 9 KB/s at the defaults.
const chunk = 256 << 10

// deadlineWriter gives every write of an answer WriteTimeout to make
// progress. Extending a deadline costs a timer update, so it is done at
// most every quarter timeout, leaving each write at least three quarters.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	set     time.Time // when the deadline was last extended
}

func newDeadlineWriter(w http.ResponseWriter, rc *http.ResponseController, timeout time.Duration) *deadlineWriter {
	d := &deadlineWriter{ResponseWriter: w, rc: rc, timeout: timeout}
	d.extend(time.Now())
	return d
}

func (d *deadlineWriter) extend(now time.Time) {
	d.set = now
	d.rc.SetWriteDeadline(now.Add(d.timeout))
}

func (d *deadlineWriter) touch() {
	if now := time.Now(); now.Sub(d.set) > d.timeout/4 {
		d.extend(now)
	}
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		d.touch()
		n := min(len(p), chunk)
		m, err := d.ResponseWriter.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// ReadFrom copies r in chunks, extending the deadline between them, and
// keeps sendfile(2) for files: an *io.LimitedReader over a file (what
// http.ServeContent passes) is re-sliced rather than wrapped, since the
// kernel path looks through one LimitedReader only.
func (d *deadlineWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := d.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{d}, r)
	}
	src := r
	var remain int64 = -1
	if lr, ok := r.(*io.LimitedReader); ok {
		src, remain = lr.R, lr.N
		defer func() { lr.N = remain }()
	}
	var total int64
	for remain != 0 {
		d.touch()
		n := int64(chunk)
		if remain > 0 {
			n = min(n, remain)
		}
		m, err := rf.ReadFrom(&io.LimitedReader{R: src, N: n})
		total += m
		if remain > 0 {
			remain -= m
		}
		if err != nil {
			return total, err
		}
		if m < n {
			break // the source ended
		}
	}
	return total, nil
}

func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// writerOnly hides ReadFrom so io.Copy does not recurse into it.
type writerOnly struct{ io.Writer }

// bodyReader lifts the body's read deadline once the body has been read:
// net/http keeps reading the connection in the background while the
// handler runs (to notice a client going away), and that read must not
// time out on a long answer.
type bodyReader struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
