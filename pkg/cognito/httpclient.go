package cognito

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// maxResponseBody caps what this package reads of any HTTP answer (token or JWKS).
const maxResponseBody = 1 << 20

// errBodyTooLarge is returned by a response body read past its limit.
var errBodyTooLarge = errors.New("response body exceeds the size limit")

// limitedDoer is the gen.HttpRequestDoer the generated client uses: it caps every response
// body, because the generated parsers read bodies whole.
type limitedDoer struct {
	client *http.Client
	limit  int64
}

func (d limitedDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > d.limit {
		resp.Body.Close()
		return nil, fmt.Errorf("%w (%d bytes announced)", errBodyTooLarge, resp.ContentLength)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: d.limit}
	return resp, nil
}

// limitedBody fails with errBodyTooLarge instead of silently truncating, so a cut JSON
// document is never mistaken for a whole one.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe one byte: a body of exactly the limit is fine.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// plainHTTPAllowed reports whether u may be plain http: only towards this machine, for
// tests, cognitokit local and development. Anywhere else whoever is on the path reads
// the client secret of a token request, or rewrites a JWKS and signs tokens of their own.
func plainHTTPAllowed(u *url.URL) bool {
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
