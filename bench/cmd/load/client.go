package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// A loadClient sends the requests of a mix: each worker of drive opens its own.
type loadClient interface {
	open(base string, mix []request) (worker, error)
}

// A worker sends mix requests one after the other on its connection.
type worker interface {
	send(ctx context.Context, i int) (status int, err error)
	close()
}

// newLoadClient returns the client -client names: "go", net/http's Client (a keep-alive
// Transport shared by the workers), or "raw", one connection per worker that writes
// requests serialised in advance and reads each response with http.ReadResponse, on the
// worker's goroutine. The raw client spends a fraction of the CPU per request (no
// Transport read and write loops to hand each request between goroutines), which on a
// small machine leaves more of it to what is measured.
func newLoadClient(kind string, workers int) (loadClient, error) {
	switch kind {
	case "go":
		return goClient{&http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers, DisableCompression: true,
		}, Timeout: 10 * time.Second}}, nil
	case "raw":
		return rawClient{}, nil
	}
	return nil, errors.New("-client: go or raw")
}

type goClient struct{ *http.Client }

func (c goClient) open(base string, mix []request) (worker, error) {
	return goWorker{c.Client, base, mix}, nil
}

type goWorker struct {
	client *http.Client
	base   string
	mix    []request
}

func (w goWorker) send(ctx context.Context, i int) (int, error) {
	return send(ctx, w.client, w.base, w.mix[i])
}

func (goWorker) close() {}

type rawClient struct{}

func (rawClient) open(base string, mix []request) (worker, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, errors.New("raw client: base must be http://host:port")
	}
	w := &rawWorker{addr: u.Host, requests: make([][]byte, len(mix))}
	for i, r := range mix {
		var b strings.Builder
		b.WriteString(r.method + " " + r.path + " HTTP/1.1\r\nHost: " + u.Host + "\r\n")
		if r.authorization != "" {
			b.WriteString("Authorization: " + r.authorization + "\r\n")
		}
		for j := 0; j+1 < len(r.headers); j += 2 {
			b.WriteString(r.headers[j] + ": " + r.headers[j+1] + "\r\n")
		}
		if r.method == http.MethodPost {
			b.WriteString("Content-Length: 0\r\n")
		}
		b.WriteString("\r\n")
		w.requests[i] = []byte(b.String())
	}
	return w, nil
}

// rawWorker is one keep-alive connection, redialled when the server closes it.
type rawWorker struct {
	addr     string
	requests [][]byte
	conn     net.Conn
	br       *bufio.Reader
}

func (w *rawWorker) send(ctx context.Context, i int) (int, error) {
	if w.conn == nil {
		// Not the window's context: a dial the end of the window cuts short would fail
		// before the window's context says it ended. (A server closes a keep-alive
		// connection after so many requests, nginx after 1,000, so workers redial.)
		d := net.Dialer{Timeout: 10 * time.Second}
		c, err := d.DialContext(context.WithoutCancel(ctx), "tcp", w.addr)
		if err != nil {
			return 0, err
		}
		w.conn, w.br = c, bufio.NewReaderSize(c, 16<<10)
		// Bounds a request that never gets its answer; drive's windows are seconds long.
		if err := c.SetDeadline(time.Now().Add(time.Minute)); err != nil {
			return 0, err
		}
	}
	if _, err := w.conn.Write(w.requests[i]); err != nil {
		w.close()
		return 0, err
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		w.close()
		return 0, err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil || resp.Close {
		w.close()
	}
	return resp.StatusCode, err
}

func (w *rawWorker) close() {
	if w.conn != nil {
		w.conn.Close()
		w.conn, w.br = nil, nil
	}
}

// clientFlagHelp documents -client.
const clientFlagHelp = "load client: go (net/http's Client) or raw (pre-serialised requests on one connection per worker; default with -gateways)"
