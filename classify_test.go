package sluice

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"unicode/utf8"
)

// Error bodies as the APIs send them.
const (
	bodyAnthropicRateLimit  = `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization (1f2e) of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits."},"request_id":"req_011CU"}`
	bodyAnthropicOverloaded = `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":null}`
	bodyAnthropicCredit     = `{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}`
	bodyAnthropicInvalid    = `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}`
	bodyAnthropicAuth       = `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`
	bodyAnthropicAPIError   = `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`
	bodyAnthropicConcurrent = `{"type":"error","error":{"type":"rate_limit_error","message":"Number of concurrent connections has exceeded your rate limit. Please try again later or contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."}}`
	bodyOpenAIRateLimit     = `{
    "error": {
        "message": "Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29500, Requested 1200. Please try again in 1.4s. Visit https://platform.openai.com/account/rate-limits to learn more.",
        "type": "tokens",
        "param": null,
        "code": "rate_limit_exceeded"
    }
}`
	bodyOpenAIQuotaBody   = `{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`
	bodyOpenAIBilling     = `{"error":{"message":"Billing hard limit has been reached","type":"invalid_request_error","param":null,"code":"billing_hard_limit_reached"}}`
	bodyOpenAIKey         = `{"error":{"message":"Incorrect API key provided: sk-abc. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`
	bodyOpenAIServer      = `{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`
	bodyOpenAISpendLimit  = `{"error":{"message":"You have reached your spend limit for this project.","type":"requests","code":null}}`
	bodyGoogleRateLimited = `{"error":{"code":429,"message":"Quota exceeded for quota metric 'Generate Content API requests per minute' and limit 'GenerateContent request limit per minute'.","status":"RESOURCE_EXHAUSTED"}}`
)

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   Class
	}{
		{200, `{"id":"msg_1"}`, ClassOK},
		{201, "", ClassOK},
		{204, "", ClassOK},
		{101, "", ClassOK},
		{301, "", ClassOK},
		{304, "", ClassOK},
		{200, `{"content":"the overloaded_error type means..."}`, ClassOK},
		{200, bodyAnthropicOverloaded, ClassOverloaded}, // an error event after a 200 status
		{429, "", ClassThrottled},
		{429, bodyAnthropicRateLimit, ClassThrottled},
		{429, bodyAnthropicConcurrent, ClassThrottled},
		{429, bodyOpenAIRateLimit, ClassThrottled},
		{429, bodyGoogleRateLimited, ClassThrottled},
		{429, "Too Many Requests", ClassThrottled},
		{429, bodyOpenAIQuotaBody, ClassQuotaExhausted},
		{429, bodyOpenAIBilling, ClassQuotaExhausted},
		{429, bodyOpenAISpendLimit, ClassQuotaExhausted},
		{429, `{"error":{"code":"quota_exceeded"}}`, ClassQuotaExhausted},
		{429, bodyAnthropicCredit, ClassQuotaExhausted},
		{400, bodyAnthropicCredit, ClassQuotaExhausted},
		{400, bodyOpenAIBilling, ClassQuotaExhausted},
		{402, "Spend limit reached", ClassQuotaExhausted},
		{403, `{"error":{"code":"insufficient_quota"}}`, ClassQuotaExhausted},
		{403, bodyOpenAISpendLimit, ClassQuotaExhausted},
		{404, "spend limit", ClassFatal},
		// A 400 refusing one request, quoting it, is that request's
		// failure: it halted the gate for good.
		{400, `{"error":{"message":"Invalid prompt: 'what is my spend limit?' was flagged","type":"invalid_request_error","code":null}}`, ClassFatal},
		{400, `{"type":"error","error":{"type":"invalid_request_error","message":"messages.0: credit balance is too low is not a valid role"}}`, ClassFatal},
		{400, "spend limit must be positive", ClassFatal},
		{403, "insufficient_quota", ClassFatal},
		{500, `{"error":{"message":"could not parse overloaded_error in your request"}}`, ClassTransient},
		{529, bodyAnthropicOverloaded, ClassOverloaded},
		{529, "", ClassOverloaded},
		{503, "Service Unavailable", ClassOverloaded},
		{500, bodyAnthropicOverloaded, ClassOverloaded},
		{500, bodyAnthropicAPIError, ClassTransient},
		{500, bodyOpenAIServer, ClassTransient},
		{502, "<html>Bad Gateway</html>", ClassTransient},
		{504, "", ClassTransient},
		{408, "", ClassTransient},
		{409, "", ClassTransient},
		{425, "", ClassTransient},
		{501, "", ClassFatal}, // never succeeds on retry
		{505, "", ClassFatal},
		{599, "", ClassTransient},
		{400, bodyAnthropicInvalid, ClassFatal},
		{401, bodyAnthropicAuth, ClassFatal},
		{401, bodyOpenAIKey, ClassFatal},
		{403, "Forbidden", ClassFatal},
		{404, "", ClassFatal},
		{405, "", ClassFatal},
		{410, "", ClassFatal},
		{413, `{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}`, ClassFatal},
		{422, "", ClassFatal},
		{0, "", ClassTransient},
		{-1, "", ClassTransient},
		{600, "", ClassTransient},
	}
	for _, tt := range tests {
		if got := Classify(tt.status, nil, []byte(tt.body), nil); got != tt.want {
			t.Errorf("Classify(%d, %.60q) = %v, want %v", tt.status, tt.body, got, tt.want)
		}
	}
}

func TestClassifyShouldRetryHeader(t *testing.T) {
	tests := []struct {
		status int
		body   string
		header string
		want   Class
	}{
		{400, bodyAnthropicInvalid, "true", ClassTransient},
		{404, "", "TRUE", ClassTransient},
		{401, "", " true ", ClassTransient},
		{429, "", "true", ClassThrottled},
		{503, "", "true", ClassOverloaded},
		{500, "", "true", ClassTransient},
		{429, "", "false", ClassFatal},
		{529, "", "false", ClassFatal},
		{503, "", "False", ClassFatal},
		{500, "", "false", ClassFatal},
		{408, "", "false", ClassFatal},
		{400, "", "false", ClassFatal},
		{429, bodyOpenAIQuotaBody, "false", ClassQuotaExhausted},
		{429, bodyOpenAIQuotaBody, "true", ClassQuotaExhausted},
		{200, "", "false", ClassOK},
		{204, "", "true", ClassOK},
		{304, "", "false", ClassOK},
		{400, "", "maybe", ClassFatal},
		{500, "", "", ClassTransient},
	}
	for _, tt := range tests {
		h := respHeader("x-should-retry", tt.header)
		if got := Classify(tt.status, h, []byte(tt.body), nil); got != tt.want {
			t.Errorf("Classify(%d, x-should-retry: %q) = %v, want %v", tt.status, tt.header, got, tt.want)
		}
	}
}

// fakeTimeoutError is a net.Error that timed out, as a dialer's or a
// transport's own timeouts are.
type fakeTimeoutError struct{}

func (fakeTimeoutError) Error() string   { return "i/o timeout" }
func (fakeTimeoutError) Timeout() bool   { return true }
func (fakeTimeoutError) Temporary() bool { return true }

func TestClassifyErrors(t *testing.T) {
	get := func(err error) error { return &url.Error{Op: "Post", URL: "https://api.example.com/v1", Err: err} }
	read := func(errno syscall.Errno) error {
		return &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: errno}}
	}
	_, scheme := http.Get("ftp://example.invalid/file")
	if scheme == nil {
		t.Fatal("http.Get of an ftp URL succeeded")
	}
	// What net/http refuses to send, before it dials: the same request
	// meets the same refusal (a key with the \r of a CRLF .env file was
	// retried nine times a call).
	unsendable := func(mod func(*http.Request)) error {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:9/", nil)
		mod(req)
		_, err := (&http.Transport{}).RoundTrip(req)
		if err == nil {
			t.Fatal("net/http sent a request it should refuse")
		}
		return err
	}
	badValue := unsendable(func(r *http.Request) { r.Header.Set("X-Api-Key", "sk-abc\r") })
	badName := unsendable(func(r *http.Request) { r.Header["X A"] = []string{"b"} })
	badMethod := unsendable(func(r *http.Request) { r.Method = "GE T" })
	_, badPort := http.Get("http://127.0.0.1:99999/")
	if badPort == nil {
		t.Fatal("a GET to port 99999 succeeded")
	}
	plain := httptest.NewServer(http.NotFoundHandler()) // https to a server that speaks plain HTTP
	t.Cleanup(plain.Close)
	_, notTLS := http.Get(strings.Replace(plain.URL, "http://", "https://", 1))
	if notTLS == nil {
		t.Fatal("https to a plain HTTP server succeeded")
	}
	rawReq, _ := http.NewRequest("GET", strings.Replace(plain.URL, "http://", "https://", 1), nil)
	_, rawNotTLS := (&http.Transport{}).RoundTrip(rawReq) // as a Transport's base says it
	if rawNotTLS == nil {
		t.Fatal("https to a plain HTTP server succeeded")
	}
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"canceled", context.Canceled, ClassCanceled},
		{"canceled in url.Error", get(context.Canceled), ClassCanceled},
		{"canceled wrapped", fmt.Errorf("sluice: call: %w", get(context.Canceled)), ClassCanceled},
		{"deadline", context.DeadlineExceeded, ClassTransient},
		{"deadline in url.Error", get(context.DeadlineExceeded), ClassTransient},
		{"os deadline", get(&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}), ClassTransient},
		{"net timeout", get(fakeTimeoutError{}), ClassTransient},
		{"reset", read(syscall.ECONNRESET), ClassTransient},
		{"reset in url.Error", get(read(syscall.ECONNRESET)), ClassTransient},
		{"reset bare", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, ClassTransient},
		{"refused", get(&net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}), ClassTransient},
		{"aborted", get(read(syscall.ECONNABORTED)), ClassTransient},
		{"broken pipe", get(&net.OpError{Op: "write", Net: "tcp", Err: &os.SyscallError{Syscall: "write", Err: syscall.EPIPE}}), ClassTransient},
		{"EOF", get(io.EOF), ClassTransient},
		{"unexpected EOF", get(io.ErrUnexpectedEOF), ClassTransient},
		{"DNS", get(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "api.example.com", IsNotFound: true}}), ClassTransient},
		{"unknown", errors.New("something odd"), ClassTransient},
		{"unknown authority", get(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), ClassFatal},
		{"bare unknown authority", x509.UnknownAuthorityError{}, ClassFatal},
		{"hostname", get(&tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "api.example.com"}}), ClassFatal},
		{"expired", get(x509.CertificateInvalidError{Cert: &x509.Certificate{}, Reason: x509.Expired}), ClassFatal},
		{"unsupported scheme", scheme, ClassFatal},
		{"header value net/http will not send", get(badValue), ClassFatal},
		{"header name net/http will not send", get(badName), ClassFatal},
		{"method net/http will not send", get(badMethod), ClassFatal},
		{"a port that cannot exist", badPort, ClassFatal},
		{"https to a plain HTTP server", notTLS, ClassFatal},
		{"https to a plain HTTP server, from a RoundTripper", rawNotTLS, ClassFatal},
	}
	for _, tt := range tests {
		// The status and body of an error are meaningless; Classify must not look.
		if got := Classify(200, nil, nil, tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestClassStringAndRetryable(t *testing.T) {
	tests := []struct {
		c         Class
		name      string
		retryable bool
	}{
		{ClassOK, "ok", false},
		{ClassThrottled, "throttled", true},
		{ClassQuotaExhausted, "quota-exhausted", false},
		{ClassOverloaded, "overloaded", true},
		{ClassTransient, "transient", true},
		{ClassFatal, "fatal", false},
		{ClassCanceled, "canceled", false},
		{Class(42), "class(42)", false},
		{Class(-1), "class(-1)", false},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.name {
			t.Errorf("Class(%d).String() = %q, want %q", int(tt.c), got, tt.name)
		}
		if got := tt.c.Retryable(); got != tt.retryable {
			t.Errorf("%v.Retryable() = %v, want %v", tt.c, got, tt.retryable)
		}
	}
	var zero Class
	if zero != ClassOK {
		t.Errorf("zero Class = %v, want ok", zero)
	}
}

func TestAPIMessage(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes
	tests := []struct {
		name, body, want string
	}{
		{"anthropic", bodyAnthropicRateLimit, "rate_limit_error: This request would exceed the rate limit for your organization (1f2e) of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits."},
		{"anthropic overloaded", bodyAnthropicOverloaded, "overloaded_error: Overloaded"},
		{"anthropic credit", bodyAnthropicCredit, "invalid_request_error: Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},
		{"openai code", bodyOpenAIQuotaBody, "insufficient_quota: You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."},
		{"openai indented", bodyOpenAIRateLimit, "rate_limit_exceeded: Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29500, Requested 1200. Please try again in 1.4s. Visit https://platform.openai.com/account/rate-limits to learn more."},
		{"openai null code uses type", bodyOpenAIServer, "server_error: The server had an error while processing your request. Sorry about that!"},
		{"numeric code", bodyGoogleRateLimited, "429: Quota exceeded for quota metric 'Generate Content API requests per minute' and limit 'GenerateContent request limit per minute'."},
		{"error without message", `{"error":{"type":"not_found_error"}}`, "not_found_error"},
		{"message only", `{"message":"Not Found"}`, "Not Found"},
		{"error string", `{"error":"invalid token"}`, "invalid token"},
		{"detail", `{"detail":"Method Not Allowed"}`, "Method Not Allowed"},
		{"json without message", `{"ok":false}`, `{"ok":false}`},
		{"bad json", `{"error":`, `{"error":`},
		{"text", "  Bad Gateway\r\n", "Bad Gateway"},
		{"html", "<html>\n  <body>502   Bad Gateway</body>\n</html>\n", "<html> <body>502 Bad Gateway</body> </html>"},
		{"empty", "", ""},
		{"invalid utf-8", "oops \xff\xfe!", "oops \uFFFD!"},
		{"long", long, strings.Repeat("é", 150) + "…"},
		{"long message in json", `{"message":"` + strings.Repeat("a", 400) + `"}`, strings.Repeat("a", 300) + "…"},
	}
	for _, tt := range tests {
		if got := apiMessage([]byte(tt.body)); got != tt.want {
			t.Errorf("%s: apiMessage(%.40q) = %q, want %q", tt.name, tt.body, got, tt.want)
		}
	}
}

func FuzzClassify(f *testing.F) {
	for _, b := range []string{bodyAnthropicRateLimit, bodyAnthropicOverloaded, bodyAnthropicCredit, bodyOpenAIQuotaBody, bodyOpenAIRateLimit, "", "\xff"} {
		for _, st := range []int{200, 400, 429, 500, 529} {
			f.Add(st, []byte(b), "")
		}
	}
	f.Add(429, []byte("insufficient_quota"), "false")
	f.Add(400, []byte(""), "true")
	f.Fuzz(func(t *testing.T, status int, body []byte, shouldRetry string) {
		got := Classify(status, respHeader("X-Should-Retry", shouldRetry), body, nil)
		if got < ClassOK || got > ClassFatal {
			t.Fatalf("Classify(%d, %q, %q) = %v: not a response class", status, body, shouldRetry, got)
		}
		if status >= 200 && status < 300 && got != ClassOK && got != ClassOverloaded {
			t.Fatalf("Classify(%d) = %v for a success", status, got)
		}
		if status == 429 && got == ClassOK {
			t.Fatalf("Classify(429) = ok")
		}
		_ = got.String()
		_ = apiMessage(body)
	})
}

func FuzzAPIMessage(f *testing.F) {
	for _, b := range []string{bodyAnthropicRateLimit, bodyOpenAIQuotaBody, bodyOpenAIServer, bodyGoogleRateLimited, `{"error":"x"}`,
		`{"message":null}`, `{"error":{"code":1e400}}`, "\xff\xfe", strings.Repeat(" \t", 500), strings.Repeat("€", 200)} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := apiMessage(body)
		if !utf8.ValidString(got) {
			t.Fatalf("apiMessage(%q) = %q: not valid UTF-8", body, got)
		}
		if len(got) > 300+len("…") {
			t.Fatalf("apiMessage(%q) is %d bytes long", body, len(got))
		}
		if strings.TrimSpace(got) != got || strings.ContainsAny(got, "\n\r\t") {
			t.Fatalf("apiMessage(%q) = %q: not one trimmed line", body, got)
		}
	})
}

// TestTransportDoesNotRetryAPermanentDialError protects a refusal that a
// dialer marks Permanent (sluice mcp refusing a private address at connect
// time) from being retried with backoff until the attempts run out.
func TestTransportDoesNotRetryAPermanentDialError(t *testing.T) {
	var dials atomic.Int32
	refused := errors.New("refused: 127.0.0.1 is a loopback address")
	base := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, &net.OpError{Op: "dial", Net: network, Err: Permanent(refused)}
	}}
	client := &http.Client{Transport: &Transport{Base: base}}
	_, err := client.Get("http://a.example/")
	if !errors.Is(err, refused) {
		t.Fatalf("got error %v, want the dialer's refusal", err)
	}
	if got := dials.Load(); got != 1 {
		t.Errorf("dialled %d times, want 1: a Permanent error is not retried", got)
	}
	if got := Classify(0, nil, nil, fmt.Errorf("dial: %w", Permanent(refused))); got != ClassFatal {
		t.Errorf("Classify(Permanent) = %v, want ClassFatal", got)
	}
}
